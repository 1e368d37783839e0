; Inno Setup script of TutorMax Desktop (Windows installer). build/package.py runs it on
; Windows after PyInstaller, when Inno Setup 6 (ISCC.exe) is installed:
;
;   ISCC /DAppVersion=0.1.0 /DSourceDir=dist\tutormax-desktop /Odist build\windows\tutormax-desktop.iss
;
; A per-user install (no admin rights: managers install it themselves) into
; %LOCALAPPDATA%\Programs\TutorMax Desktop, with Start-menu entries for the app and for
; the self-test. tutormax-desktop.exe is windowed (no console window beside the app);
; tutormax.exe, its console twin from the same bundle, is the headless CLI and runs the
; self-test where its report can be read.
; Settings, database and logs live in %LOCALAPPDATA%\TutorMax\TutorMax Desktop and are
; kept by an uninstall or an upgrade; the API token stays in Credential Manager.

#ifndef AppVersion
  #define AppVersion "0.0.0"
#endif
#ifndef SourceDir
  #define SourceDir "..\..\dist\tutormax-desktop"
#endif

[Setup]
; Never change AppId: upgrades find the installed version by it.
AppId={{6C0F3A52-9E7B-4C1D-A4E2-7B2D5F1C9A30}
AppName=TutorMax Desktop
AppVersion={#AppVersion}
AppPublisher=TutorMax
DefaultDirName={autopf}\TutorMax Desktop
DefaultGroupName=TutorMax Desktop
PrivilegesRequired=lowest
PrivilegesRequiredOverridesAllowed=dialog
ArchitecturesAllowed=x64compatible
ArchitecturesInstallIn64BitMode=x64compatible
OutputBaseFilename=tutormax-desktop-{#AppVersion}-windows-x64-setup
Compression=lzma2/max
SolidCompression=yes
WizardStyle=modern
UninstallDisplayIcon={app}\tutormax-desktop.exe
CloseApplications=yes

[Files]
Source: "{#SourceDir}\*"; DestDir: "{app}"; Flags: ignoreversion recursesubdirs createallsubdirs

[InstallDelete]
; An upgrade replaces the whole bundle: no stale library of the previous version stays.
Type: filesandordirs; Name: "{app}\_internal"

[Icons]
Name: "{group}\TutorMax Desktop"; Filename: "{app}\tutormax-desktop.exe"
Name: "{group}\TutorMax Desktop self-test"; Filename: "{app}\tutormax.exe"; Parameters: "--self-test --keep"
Name: "{autodesktop}\TutorMax Desktop"; Filename: "{app}\tutormax-desktop.exe"; Tasks: desktopicon

[Tasks]
Name: "desktopicon"; Description: "{cm:CreateDesktopIcon}"; GroupDescription: "{cm:AdditionalIcons}"; Flags: unchecked

[Run]
Filename: "{app}\tutormax-desktop.exe"; Description: "{cm:LaunchProgram,TutorMax Desktop}"; Flags: nowait postinstall skipifsilent
