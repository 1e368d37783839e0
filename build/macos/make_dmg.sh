#!/bin/sh
# macOS: wraps dist/TutorMax Desktop.app (built by PyInstaller's BUNDLE step of
# build/tutormax-desktop.spec) into dist/tutormax-desktop-<version>-macos.dmg with
# hdiutil, with an /Applications link to drag it onto. build/package.py runs it on macOS:
#
#   sh build/macos/make_dmg.sh 0.1.0
#
# Signing and notarization (needed to open it without a Gatekeeper warning) take the
# team's Developer ID; set CODESIGN_IDENTITY to sign the .app before it is imaged:
#   CODESIGN_IDENTITY="Developer ID Application: ..." sh build/macos/make_dmg.sh 0.1.0
#   xcrun notarytool submit dist/tutormax-desktop-0.1.0-macos.dmg --keychain-profile ... --wait
set -eu
version=${1:?usage: make_dmg.sh VERSION}
app="dist/TutorMax Desktop.app"
dmg="dist/tutormax-desktop-$version-macos.dmg"
[ -d "$app" ] || { echo "no $app: run build/package.py on macOS first" >&2; exit 1; }
if [ -n "${CODESIGN_IDENTITY:-}" ]; then
    codesign --force --deep --options runtime --timestamp --sign "$CODESIGN_IDENTITY" "$app"
fi
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
cp -R "$app" "$stage/"
ln -s /Applications "$stage/Applications"
rm -f "$dmg"
hdiutil create -volname "TutorMax Desktop $version" -srcfolder "$stage" \
    -fs HFS+ -format UDZO -imagekey zlib-level=9 "$dmg"
echo "$dmg"
