"""Errors the API client raises. Messages are for people and never carry the token."""

from __future__ import annotations

from typing import Any


class ApiError(RuntimeError):
    """Base class: something went wrong talking to the Rails API."""


class AuthError(ApiError):
    """401: the token is missing or invalid. Sync stops and asks for a new one."""


class ForbiddenError(ApiError):
    """403: the token is valid but not allowed to do this."""


class NotFoundError(ApiError):
    """404: the resource or record does not exist on the server."""


class UnavailableError(ApiError):
    """5xx, timeouts, dropped connections or 429s that outlasted the retry budget."""


class BadResponseError(ApiError):
    """The server answered, but not with what the contract promises (after retries)."""


class RequestRejectedError(ApiError):
    """422 (or 400): the server refused our request; ``errors`` maps field -> messages."""

    def __init__(self, message: str, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.errors = errors or {}


class ConflictError(ApiError):
    """409: our ``lock_version`` is stale; ``current`` is the server's record."""

    def __init__(self, message: str, current: dict[str, Any] | None) -> None:
        super().__init__(message)
        self.current = current


class CancelledError(ApiError):
    """The caller cancelled while a request was waiting or retrying."""
