"""HTTP client for the Rails API (RAILS_API.md), on httpx.

Owns transport concerns only: auth header, timeouts, bounded retries with exponential
backoff and full jitter, ``Retry-After``, and turning status codes into the typed errors
of :mod:`services.api.errors`. What a page *means* (validation, cursors) is the sync
engine's business.
"""

from __future__ import annotations

import email.utils
import logging
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import httpx
import orjson

from services.api import errors
from services.api.rails_time import format_us
from services.api.records import InvalidPageError, split_page

log = logging.getLogger(__name__)

T = TypeVar("T")

API_PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How hard to try before a resource's sync is marked failed for this tick."""

    max_attempts: int = 6
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A server asking us to wait longer than this is treated as unavailable for now.
    max_retry_after: float = 300.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Full jitter: uniform(0, min(cap, base * 2**attempt))."""
        return rng.uniform(0, min(self.max_delay, self.base_delay * (2**attempt)))


@dataclass(slots=True)
class RawPage:
    records: list[Any]
    has_more: bool
    body_bytes: int
    # The page exactly as received, for validation straight from JSON.
    body: bytes = field(repr=False, default=b"")


class RailsApiClient:
    """One client per API base URL; thread-safe (httpx.Client is)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout: float = 30.0,
        verify: bool | str = True,
        retry: RetryPolicy | None = None,
        cancel: threading.Event | None = None,
        user_agent: str = "TutorMax-Desktop",
        rng: random.Random | None = None,
        sleep: Callable[[float], None] | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.retry = retry or RetryPolicy()
        self.cancel = cancel or threading.Event()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={
                "Authorization": f"Bearer {token}",
                # Rails renders 404/500 bodies as JSON only when asked.
                "Accept": "application/json",
                "User-Agent": user_agent,
            },
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            verify=verify,
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )
        self.requests_made = 0

    # ------------------------------------------------------------------ lifecycle

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> RailsApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ endpoints

    def health(self) -> dict[str, Any]:
        """``GET /api/v1/health`` (no auth needed): ``{"status": "ok", "server_time": ...}``."""
        resp = self._request("GET", f"{API_PREFIX}/health")
        return self._json(resp, "health")

    def check_auth(self) -> None:
        """One authenticated request (a 1-record page of managers): raises AuthError if bad."""
        self.get_page("managers", limit=1)

    def get_page(
        self,
        resource: str,
        *,
        updated_since_us: int | None = None,
        after_id: int | None = None,
        limit: int = 500,
        parse: Callable[[bytes], T] | None = None,
    ) -> RawPage | T:
        """One keyset page. The cursor goes out with microseconds, percent-encoded.

        ``parse(body)`` turns the body into the caller's page type (the sync validates
        straight from bytes); raising :class:`RetryableResponse` in it retries the request
        like a dropped connection. Without it, a :class:`RawPage` of parsed records.
        """
        params: dict[str, str] = {"limit": str(limit)}
        if updated_since_us is not None:
            params["updated_since"] = format_us(updated_since_us)
            if after_id is not None:
                params["after_id"] = str(after_id)
        return self._request(
            "GET",
            f"{API_PREFIX}/{resource}",
            params=params,
            parse=lambda resp: (parse or parse_raw_page)(resp.content),
        )

    def create_intervention(
        self, payload: dict[str, Any], idempotency_key: str
    ) -> tuple[int, dict[str, Any]]:
        """POST with an idempotency key: ``(201|200, record)``; a replay returns the first."""
        resp = self._request(
            "POST",
            f"{API_PREFIX}/interventions",
            content=orjson.dumps({"intervention": payload}),
            headers={"Idempotency-Key": idempotency_key, "Content-Type": "application/json"},
        )
        return resp.status_code, self._json(resp, "intervention")

    def update_intervention(self, remote_id: int, payload: dict[str, Any]) -> dict:
        """PATCH with ``lock_version``; a stale one raises ConflictError with ``current``."""
        resp = self._request(
            "PATCH",
            f"{API_PREFIX}/interventions/{remote_id}",
            content=orjson.dumps({"intervention": payload}),
            headers={"Content-Type": "application/json"},
        )
        return self._json(resp, "intervention")

    # ------------------------------------------------------------------ machinery

    def _request(
        self,
        method: str,
        path: str,
        *,
        parse: Callable[[httpx.Response], Any] | None = None,
        **kwargs: Any,
    ) -> Any:
        """Send with retries; return ``parse(resp)`` (or the response) on success.

        Retried: connection errors, timeouts, bodies cut short, 5xx, 429 (after
        ``Retry-After``), and what ``parse`` calls retryable. Not retried: 4xx other
        than 429, which are answers, not accidents.
        """
        last_problem = "no attempt made"
        for attempt in range(self.retry.max_attempts):
            self._check_cancel()
            delay: float | None = None
            try:
                self.requests_made += 1
                resp = self._http.request(method, path, **kwargs)
            except httpx.TimeoutException:
                last_problem = f"timed out after {self._http.timeout.read}s"
            except httpx.TransportError as exc:
                # Connection refused/reset, or a body cut short mid-transfer.
                last_problem = f"connection failed ({type(exc).__name__}: {exc})"
            else:
                status = resp.status_code
                if status == 429:
                    delay = self._retry_after(resp)
                    last_problem = "rate limited (429)"
                    if delay is not None and delay > self.retry.max_retry_after:
                        raise errors.UnavailableError(
                            f"{method} {path}: the server asks us to wait {delay:.0f}s (429)"
                        )
                elif status >= 500:
                    last_problem = f"server error {status}"
                else:
                    self._raise_for_status(resp, method, path)
                    if parse is None:
                        return resp
                    try:
                        return parse(resp)
                    except RetryableResponse as exc:
                        last_problem = str(exc)
            if attempt + 1 >= self.retry.max_attempts:
                break
            if delay is None:
                delay = self.retry.backoff(attempt, self._rng)
            log.info("%s %s: %s; retry %d in %.1fs", method, path, last_problem, attempt + 1, delay)
            self._wait(delay)
        raise errors.UnavailableError(
            f"{method} {path}: {last_problem} (gave up after {self.retry.max_attempts} attempts)"
        )

    def _raise_for_status(self, resp: httpx.Response, method: str, path: str) -> None:
        status = resp.status_code
        if status < 400:
            return
        where = f"{method} {path}"
        if status == 401:
            raise errors.AuthError(
                f"{where}: the API token was refused (401). Enter a new token in Settings."
            )
        if status == 403:
            raise errors.ForbiddenError(f"{where}: this token is not allowed to do that (403)")
        if status == 404:
            raise errors.NotFoundError(f"{where}: not found (404)")
        body = _maybe_json(resp)
        if status == 409:
            current = body.get("current") if isinstance(body, dict) else None
            message = body.get("message") if isinstance(body, dict) else None
            raise errors.ConflictError(f"{where}: {message or 'conflict (409)'}", current)
        if status in (400, 422):
            errs = body.get("errors", body) if isinstance(body, dict) else {}
            if not isinstance(errs, dict):
                errs = {"base": [str(errs)]}
            detail = "; ".join(
                f"{k} {', '.join(map(str, v if isinstance(v, list) else [v]))}"
                for k, v in errs.items()
            )
            raise errors.RequestRejectedError(f"{where}: refused ({status}): {detail}", errs)
        raise errors.BadResponseError(f"{where}: unexpected status {status}")

    def _retry_after(self, resp: httpx.Response) -> float | None:
        value = resp.headers.get("Retry-After")
        if not value:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, when.timestamp() - time.time())

    def _json(self, resp: httpx.Response, what: str) -> dict[str, Any]:
        try:
            doc = orjson.loads(resp.content)
        except orjson.JSONDecodeError:
            raise errors.BadResponseError(f"{what}: the server sent invalid JSON") from None
        if not isinstance(doc, dict):
            raise errors.BadResponseError(f"{what}: expected a JSON object")
        return doc

    def _wait(self, seconds: float) -> None:
        if self._sleep is not None:
            self._sleep(seconds)
            self._check_cancel()
            return
        if self.cancel.wait(seconds):
            raise errors.CancelledError("cancelled")

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise errors.CancelledError("cancelled")


class RetryableResponse(Exception):
    """A response that parsed badly: worth another try, like a dropped connection."""


def parse_raw_page(body: bytes) -> RawPage:
    """The page's records parsed, or RetryableResponse when the body is not a page."""
    try:
        records, has_more = split_page(body)
    except InvalidPageError as exc:
        raise RetryableResponse(str(exc)) from None
    return RawPage(records, has_more, len(body), body)


def _maybe_json(resp: httpx.Response) -> Any:
    try:
        return orjson.loads(resp.content)
    except orjson.JSONDecodeError:
        return None
