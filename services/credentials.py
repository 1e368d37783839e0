"""The API token, kept in the OS keychain and nowhere else.

keyring picks the platform's store (Secret Service on Linux, Keychain on macOS,
Credential Manager on Windows). When none is usable (a headless box, keyring's
``fail.Keyring``), we say so plainly and never fall back to a plain-text file. Headless
and scheduled runs may pass the token in ``TUTORMAX_API_TOKEN`` instead.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Mapping

import keyring
import keyring.backend
import keyring.errors

# The keychain entry is (SERVICE, the API's base URL). Never rename: an upgrade finds the
# token an installed release stored by these names (tests/unit/test_upgrade_settings_keychain.py).
SERVICE = "TutorMax Desktop API token"
TOKEN_ENV = "TUTORMAX_API_TOKEN"


class CredentialError(RuntimeError):
    """No token to be had, or no keychain to keep one in."""


def _usable_backend() -> keyring.backend.KeyringBackend:
    backend = keyring.get_keyring()
    # `fail.Keyring` raises on every call; a chainer with no members is the same thing;
    # keyrings.alt's plaintext file backends are exactly what we must not use silently.
    name = f"{type(backend).__module__}.{type(backend).__name__}"
    members = getattr(backend, "backends", None)
    if members is not None:
        members = [b for b in members if not _is_insecure(b)]
        if not members:
            raise CredentialError(_no_keychain_message(name))
    elif "fail" in name.lower() or _is_insecure(backend):
        raise CredentialError(_no_keychain_message(name))
    return backend


def _is_insecure(backend: object) -> bool:
    module = type(backend).__module__
    return module.startswith("keyrings.alt.file") or "PlaintextKeyring" in type(backend).__name__


def _no_keychain_message(name: str) -> str:
    return (
        f"No OS keychain is available (keyring backend: {name}). Start a Secret Service "
        "(e.g. gnome-keyring) or, for headless runs, set TUTORMAX_API_TOKEN."
    )


def keychain_backend_name() -> str:
    """Human-readable name of the keychain in use, or raises CredentialError."""
    backend = _usable_backend()
    return f"{type(backend).__module__}.{type(backend).__name__}"


def store_token(api_url: str, token: str) -> None:
    if not token or not token.strip():
        raise CredentialError("the token is empty")
    backend = _usable_backend()
    try:
        backend.set_password(SERVICE, api_url, token.strip())
    except keyring.errors.KeyringError as exc:
        raise CredentialError(f"the keychain refused to store the token: {exc}") from None


def stored_token(api_url: str) -> str | None:
    backend = _usable_backend()
    try:
        return backend.get_password(SERVICE, api_url)
    except keyring.errors.KeyringError as exc:
        raise CredentialError(f"the keychain could not be read: {exc}") from None


def forget_token(api_url: str) -> None:
    backend = _usable_backend()
    with contextlib.suppress(keyring.errors.PasswordDeleteError):
        backend.delete_password(SERVICE, api_url)


def resolve_token(api_url: str, environ: Mapping[str, str] | None = None) -> str:
    """The token for ``api_url``: ``TUTORMAX_API_TOKEN`` if set, else the keychain's."""
    env = os.environ if environ is None else environ
    token = env.get(TOKEN_ENV, "").strip()
    if token:
        return token
    try:
        token = stored_token(api_url)
    except CredentialError as exc:
        raise CredentialError(f"no API token for {api_url}: {exc}") from None
    if not token:
        raise CredentialError(
            f"no API token for {api_url} in the keychain; add it in Settings "
            f"or set {TOKEN_ENV} for headless runs"
        )
    return token
