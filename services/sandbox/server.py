"""The sandbox HTTP server: RAILS_API.md over real HTTP on 127.0.0.1.

The app's built-in sandbox and every sync test talk to this server, so it answers like
the Rails 6.1 app of ``shared/design/rails-samples.txt`` down to the bytes: bodies,
content types (``utf-8`` for renders, ``UTF-8`` for the exceptions app), weak ETags,
401/404/422 shapes. It is built on the stdlib ``ThreadingHTTPServer`` with HTTP/1.1
keep-alive; responses go out in one write (headers and body together, Nagle off) so a
keep-alive client never waits on delayed ACKs.

Control endpoints under ``/sandbox/`` (same token): the clock, faults, stats, and
``POST /sandbox/anomalies`` (``services.sandbox.anomalies``: a metric misbehaves in the
served data for a window).

Request order is Rails' order: routing (404), token auth (401), injected faults (what a
proxy or an overloaded app would add), parameter validation (422/400), then the action.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import re
import socket
import threading
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from services.api.contract import DEFAULT_PAGE_LIMIT, MAX_PAGE_LIMIT, RESOURCES
from services.api.rails_time import US_PER_DAY, TimestampError, parse_us
from services.sandbox.anomalies import AnomalyInjector, parse_spec
from services.sandbox.clock import SandboxClock
from services.sandbox.faults import FaultConfig, FaultInjector, RequestFaults, corrupt_record
from services.sandbox.rails_json import (
    TIME_PRECISIONS,
    build_records,
    dumps,
    etag,
    field_order,
    format_time,
    page_body,
)
from services.sandbox.writes import InterventionWriter, ParameterMissing, WriteResponse

log = logging.getLogger(__name__)

API = "/api/v1/"
JSON_TYPE = "application/json; charset=utf-8"
# Rails' exceptions app (404/400/500) says UTF-8 in capitals; renders say utf-8.
ERROR_JSON_TYPE = "application/json; charset=UTF-8"
ERROR_HTML_TYPE = "text/html; charset=UTF-8"
MAX_BODY_BYTES = 16 * 1024 * 1024
# Extend the world when the clock gets this close to its horizon, this far ahead.
EXTEND_MARGIN_US = 14 * US_PER_DAY
EXTEND_AHEAD_US = 14 * US_PER_DAY

SINCE_ERROR = "is not an ISO 8601 timestamp (e.g. 2026-11-20T14:03:11.482Z; percent-encode '+')"
LIMIT_ERROR = f"must be an integer from 1 to {MAX_PAGE_LIMIT}"
AFTER_ID_ERROR = "must be an integer"
# Time.iso8601 wants a "T" and a zone; parse_us alone would also take a space.
_ISO_SHAPE = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,9})?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
_UNSIGNED = re.compile(r"^\d+$")
_SIGNED = re.compile(r"^[+-]?\d+$")
_PATCH_PATH = re.compile(r"^interventions/([^/]+)$")


# ------------------------------------------------------------------------ plumbing


@dataclass(slots=True)
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: Any  # http.client.HTTPMessage: case-insensitive get()
    body: bytes
    host: str

    @property
    def wants_json(self) -> bool:
        return "application/json" in (self.headers.get("Accept") or "")


@dataclass(slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str | None = None
    headers: list[tuple[str, str]] = field(default_factory=list)
    # Send only this many body bytes, then close: a connection dropped mid-body.
    drop_at: int | None = None


class ServerStats:
    """Requests served, per (method, path, status), plus injected faults by kind."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, str, int]] = Counter()
        self.faults: Counter[str] = Counter()

    def record(self, method: str, path: str, status: int) -> None:
        with self._lock:
            self._counts[(method, path, status)] += 1

    def fault(self, kind: str, n: int = 1) -> None:
        with self._lock:
            self.faults[kind] += n

    def count(
        self, path: str | None = None, status: int | None = None, method: str | None = None
    ) -> int:
        """Requests matching every given criterion (``path`` exact, without query)."""
        with self._lock:
            return sum(
                n
                for (m, p, s), n in self._counts.items()
                if (path is None or p == path)
                and (status is None or s == status)
                and (method is None or m == method)
            )

    @property
    def total(self) -> int:
        return self.count()

    def snapshot(self) -> dict[tuple[str, str, int], int]:
        with self._lock:
            return dict(self._counts)

    def reset(self) -> None:
        with self._lock:
            self._counts.clear()
            self.faults.clear()

    def to_json(self) -> dict[str, object]:
        with self._lock:
            return {
                "requests": [
                    {"method": m, "path": p, "status": s, "count": n}
                    for (m, p, s), n in sorted(self._counts.items())
                ],
                "faults": dict(self.faults),
            }


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True  # a forgotten server never blocks interpreter exit
    request_queue_size = 128
    app: SandboxServer


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    # Idle keep-alive connections are closed after this long (their threads end).
    timeout = 120
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.app._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.app._track(self.connection, add=False)

    def do_GET(self) -> None:
        self._dispatch()

    do_POST = do_PATCH = do_PUT = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def _dispatch(self) -> None:
        try:
            body = self._read_body()
        except ValueError:
            self.close_connection = True
            self._send(Response(413, b"", ERROR_HTML_TYPE))
            return
        split = urlsplit(self.path)
        path = split.path.rstrip("/") or "/"
        # Rails decodes "+" in a query string as a space; parse_qsl does the same.
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        host = self.headers.get("Host") or self.server.app.host_port
        request = Request(self.command, path, query, self.headers, body, host)
        response = self.server.app.handle(request)
        self.server.app.stats.record(self.command, path, response.status)
        self._send(response, head_only=self.command == "HEAD")

    def _read_body(self) -> bytes:
        if (self.headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return self._read_chunked()
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY_BYTES:
            raise ValueError("body too large")
        return self.rfile.read(length) if length > 0 else b""

    def _read_chunked(self) -> bytes:
        parts: list[bytes] = []
        total = 0
        while True:
            size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            total += size
            if total > MAX_BODY_BYTES:
                raise ValueError("body too large")
            parts.append(self.rfile.read(size))
            self.rfile.readline()

    def _send(self, response: Response, head_only: bool = False) -> None:
        status = response.status
        lines = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}"]
        lines += [f"{k}: {v}" for k, v in response.headers]
        if response.content_type is not None:
            lines.append(f"Content-Type: {response.content_type}")
        if status != 304:
            lines.append(f"Content-Length: {len(response.body)}")
        if self.close_connection:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1", errors="replace")
        body = b"" if head_only or status == 304 else response.body
        try:
            if response.drop_at is not None and not head_only:
                self.wfile.write(head + body[: response.drop_at])
                self.close_connection = True
            else:
                self.wfile.write(head + body)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def log_message(self, format: str, *args: object) -> None:
        # The request line has no credentials (the token travels in a header).
        log.debug("%s " + format, self.address_string(), *args)


# ------------------------------------------------------------------------ the server


class SandboxServer:
    """RAILS_API.md served from a simulated world.

    ``world`` needs ``logs`` (resource -> VersionLog) and ``anchor_us``; ``horizon_us`` +
    ``extend(until_us)`` and ``record_intervention(...)`` are used when present.
    """

    def __init__(
        self,
        world: Any,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        faults: FaultConfig | None = None,
        time_precision: int = 3,
        clock: SandboxClock | None = None,
    ) -> None:
        if host not in ("127.0.0.1", "localhost"):
            raise ValueError("the sandbox binds the loopback interface only (127.0.0.1)")
        if not token:
            raise ValueError("a token is required")
        self.world = world
        self._token = token.encode()
        self.host = "127.0.0.1"
        self._requested_port = port
        self.time_precision = time_precision
        self.clock = clock if clock is not None else SandboxClock.fixed(world.anchor_us)
        self.stats = ServerStats()
        self._injector = FaultInjector(faults)
        # One lock for everything that reads or moves rows of the logs: a page's row
        # positions are only valid until the log merges new versions.
        self._data_lock = threading.RLock()
        self._extend_stuck_at: int | None = None
        self.writer = InterventionWriter(
            world, self.clock, self._data_lock, lambda: self._precision
        )
        self.anomalies = AnomalyInjector(world, self.clock)
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._serving = threading.Event()
        self._conn_lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}

    # ---------------------------------------------------------------- settings

    @property
    def time_precision(self) -> int:
        return self._precision

    @time_precision.setter
    def time_precision(self, value: int) -> None:
        if value not in TIME_PRECISIONS:
            raise ValueError(f"time_precision must be one of {TIME_PRECISIONS}")
        self._precision = value

    @property
    def faults(self) -> FaultConfig:
        return self._injector.config

    @faults.setter
    def faults(self, config: FaultConfig | None) -> None:
        # A fresh injector: storms and huge-page counts start over, streams reseed.
        self._injector = FaultInjector(config)

    @property
    def data_lock(self) -> threading.RLock:
        """Held while rows of the world's logs are read or moved. Anything else that
        appends to or extends the world while the server runs must hold it too."""
        return self._data_lock

    # ---------------------------------------------------------------- lifecycle

    def _bind(self) -> _HTTPServer:
        if self._httpd is None:
            self._httpd = _HTTPServer((self.host, self._requested_port), _Handler)
            self._httpd.app = self
        return self._httpd

    @property
    def port(self) -> int:
        if self._httpd is None:
            raise RuntimeError("the server is not started")
        return int(self._httpd.server_address[1])

    @property
    def host_port(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        return f"http://{self.host_port}"

    def start(self) -> SandboxServer:
        """Serve on a background (daemon) thread; returns self."""
        if self._thread is not None:
            return self
        self._bind()
        self._thread = threading.Thread(
            target=self.serve_forever, name=f"sandbox-server-{self.port}", daemon=True
        )
        self._thread.start()
        self._serving.wait(timeout=5)
        return self

    def serve_forever(self) -> None:
        """Serve on the calling thread until :meth:`stop` (from another thread)."""
        httpd = self._bind()
        self._serving.set()
        try:
            httpd.serve_forever(poll_interval=0.5)
        finally:
            self._serving.clear()

    @property
    def serving(self) -> bool:
        return self._serving.is_set()

    def stop(self) -> None:
        """Stop serving, close open keep-alive connections and wait for their threads."""
        httpd = self._httpd
        if httpd is None:
            return
        if self._serving.is_set():
            # serve_forever() notices shutdown only when its select() returns: poke it
            # with a connection instead of waiting out the poll interval (tests start
            # and stop hundreds of servers).
            stopper = threading.Thread(target=httpd.shutdown, daemon=True)
            stopper.start()
            deadline = time.monotonic() + 5
            while stopper.is_alive() and time.monotonic() < deadline:
                with contextlib.suppress(OSError):
                    socket.create_connection((self.host, self.port), timeout=0.5).close()
                stopper.join(timeout=0.01)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None
        with self._conn_lock:
            connections = list(self._connections.items())
        for conn, _ in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            if thread is not threading.current_thread():
                thread.join(timeout=5)
        httpd.server_close()
        self._httpd = None

    def __enter__(self) -> SandboxServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _track(self, conn: socket.socket, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections[conn] = threading.current_thread()
            else:
                self._connections.pop(conn, None)

    # ---------------------------------------------------------------- clock

    def advance(self, **delta: float) -> int:
        """Advance the clock (``hours=1``, ``seconds=…``) and extend the world if due."""
        now = self.clock.advance(**delta)
        self._ensure_horizon(self.clock.read_bound_us())
        return now

    def _ensure_horizon(self, bound_us: int) -> None:
        horizon = getattr(self.world, "horizon_us", None)
        if horizon is None or bound_us <= horizon - EXTEND_MARGIN_US:
            return
        with self._data_lock:
            horizon = self.world.horizon_us
            if bound_us <= horizon - EXTEND_MARGIN_US or self._extend_stuck_at == horizon:
                return
            until = bound_us + EXTEND_AHEAD_US
            log.info("extending the sandbox world to %s", format_time(until))
            self.world.extend(until)
            # Injected anomalies outlast the world's growth (sealed records stay so).
            self.anomalies.reseal()
            if self.world.horizon_us <= horizon:
                # A world that cannot grow: say so once, do not retry every request.
                log.warning("world.extend(%d) did not move the horizon", until)
                self._extend_stuck_at = self.world.horizon_us

    def clock_state(self) -> dict[str, object]:
        bound = self.clock.read_bound_us()
        last = self.clock.last_write_us
        horizon = getattr(self.world, "horizon_us", None)
        return {
            "now": format_time(bound, 6),
            "now_us": bound,
            "clock_us": self.clock.now_us(),
            "mode": self.clock.mode,
            "speed": self.clock.speed,
            "anchor": format_time(self.world.anchor_us, 6),
            "horizon": format_time(horizon, 6) if horizon is not None else None,
            "last_write": format_time(last, 6) if last is not None else None,
        }

    # ---------------------------------------------------------------- routing

    def handle(self, req: Request) -> Response:
        try:
            return self._route(req)
        except Exception:
            log.exception("sandbox server error on %s %s", req.method, req.path)
            return _rails_error(500, req)

    def _route(self, req: Request) -> Response:
        if req.path.startswith(API):
            rest = req.path[len(API) :]
            if rest == "health" and req.method in ("GET", "HEAD"):
                return self._health()
            if rest in RESOURCES and req.method in ("GET", "HEAD"):
                return self._guarded(req, self._index, rest)
            if rest == "interventions" and req.method == "POST":
                return self._guarded(req, self._create)
            m = _PATCH_PATH.match(rest)
            if m and req.method in ("PATCH", "PUT"):
                return self._guarded(req, self._update, m.group(1))
        elif req.path.startswith("/sandbox/"):
            return self._control(req)
        return _rails_error(404, req)

    def _authorized(self, req: Request) -> bool:
        """Rails' token auth: ``Bearer x``, ``Token x`` or ``Token token="x"``."""
        header = req.headers.get("Authorization") or ""
        scheme, _, value = header.partition(" ")
        if scheme not in ("Bearer", "Token") or not value:
            return False
        value = value.strip()
        if value.startswith("token="):
            value = value[len("token=") :].split(",")[0].strip().strip('"')
        return hmac.compare_digest(value.encode(), self._token)

    def _guarded(self, req: Request, action: Any, *args: Any) -> Response:
        """Auth, then the injected faults, then the action (data endpoints only)."""
        if not self._authorized(req):
            return _unauthorized()
        injector = self._injector
        faults = injector.decide(is_page=req.method in ("GET", "HEAD"))
        if faults.slow_ms:
            self.stats.fault("slow")
            time.sleep(faults.slow_ms / 1000)
        if faults.status_429:
            self.stats.fault("429")
            retry = str(injector.config.retry_after_seconds)
            return Response(429, b"Retry later\n", "text/plain", [("Retry-After", retry)])
        if faults.status_500:
            self.stats.fault("500")
            return _rails_error(500, req)
        response: Response = action(req, faults, *args)
        if faults.drop_mid_body and response.body and response.status != 304:
            self.stats.fault("drop_mid_body")
            response.drop_at = injector.cut_point(len(response.body))
        return response

    # ---------------------------------------------------------------- actions

    def _health(self) -> Response:
        now = format_time(self.clock.read_bound_us(), self._precision)
        return _json(200, dumps({"status": "ok", "server_time": now}), None)

    def _index(self, req: Request, faults: RequestFaults, resource_name: str) -> Response:
        errors, since, after_id, limit = _page_params(req.query)
        if errors:
            return _json(422, dumps({"errors": errors}))
        resource = RESOURCES[resource_name]
        names = field_order(resource)
        self._ensure_horizon(self.clock.read_bound_us())
        with self._data_lock:
            # The bound is read under the lock writes stamp under: a write is either
            # visible to this page or stamped at/after its bound (a tie goes to the
            # write's larger id), so a keyset cursor never skips it.
            bound = self.clock.read_bound_us()
            versions = self.world.logs[resource_name]
            page = versions.page(bound, since, after_id, limit)
            columns = {n: versions.column(n, page.rows) for n in names}
        records = build_records(
            resource, columns, self._precision, faults.decimals_as_numbers, order=names
        )
        if faults.decimals_as_numbers:
            self.stats.fault("decimals_as_numbers")
        injector = faults.source or self._injector
        bad = injector.malformed_kinds_for(
            resource_name, columns["id"][0], columns["updated_at"][0]
        )
        for pos, kind in bad:
            corrupt_record(records[pos], kind, resource)
            self.stats.fault(f"malformed_record:{kind}")
        if faults.huge_padding:
            self.stats.fault("huge_page")
        body = page_body(records, page.has_more, faults.huge_padding)
        if faults.malformed_body:
            self.stats.fault("malformed_body")
            body = body[: injector.cut_point(len(body))]
        return _json(200, body, req)

    def _create(self, req: Request, faults: RequestFaults) -> Response:
        params = _parse_body(req)
        if isinstance(params, Response):
            return params
        try:
            result = self.writer.create(
                req.headers.get("Idempotency-Key"), params, f"http://{req.host}"
            )
        except ParameterMissing:
            return _rails_error(400, req)
        return _from_write(result, req)

    def _update(self, req: Request, faults: RequestFaults, raw_id: str) -> Response:
        if not _UNSIGNED.match(raw_id):
            return _rails_error(404, req)  # ActiveRecord::RecordNotFound
        params = _parse_body(req)
        if isinstance(params, Response):
            return params
        try:
            result = self.writer.update(int(raw_id), params)
        except ParameterMissing:
            return _rails_error(400, req)
        if result is None:
            return _rails_error(404, req)
        return _from_write(result, req)

    # ---------------------------------------------------------------- control

    def _control(self, req: Request) -> Response:
        if not self._authorized(req):
            return _unauthorized()
        key = (req.method, req.path)
        if key == ("GET", "/sandbox/clock"):
            return _json(200, orjson.dumps(self.clock_state()))
        if key == ("POST", "/sandbox/clock/advance"):
            params = _parse_body(req)
            if isinstance(params, Response):
                return params
            delta = _advance_params(params)
            if isinstance(delta, Response):
                return delta
            self.advance(**delta)
            return _json(200, orjson.dumps(self.clock_state()))
        if key == ("PUT", "/sandbox/clock"):
            params = _parse_body(req)
            if isinstance(params, Response):
                return params
            try:
                at = parse_us(params["now"]) if isinstance(params, dict) else None
            except (KeyError, TimestampError, AttributeError):
                at = None
            if at is None:
                errors = {"errors": {"now": ["must be an ISO 8601 timestamp"]}}
                return _json(422, orjson.dumps(errors))
            self.clock.set(at)
            self._ensure_horizon(self.clock.read_bound_us())
            return _json(200, orjson.dumps(self.clock_state()))
        if key == ("GET", "/sandbox/faults"):
            return _json(200, orjson.dumps(self.faults.to_json()))
        if key == ("PUT", "/sandbox/faults"):
            params = _parse_body(req)
            if isinstance(params, Response):
                return params
            try:
                if not isinstance(params, dict):
                    raise ValueError("expected a JSON object of FaultConfig fields")
                self.faults = FaultConfig.from_json(params)
            except (TypeError, ValueError) as exc:
                return _json(422, orjson.dumps({"errors": {"faults": [str(exc)]}}))
            return _json(200, orjson.dumps(self.faults.to_json()))
        if key == ("GET", "/sandbox/stats"):
            return _json(200, orjson.dumps(self.stats.to_json()))
        if key == ("GET", "/sandbox/anomalies"):
            with self._data_lock:
                return _json(200, orjson.dumps({"anomalies": self.anomalies.applied}))
        if key == ("POST", "/sandbox/anomalies"):
            return self._inject(req)
        return _rails_error(404, req)

    def _inject(self, req: Request) -> Response:
        """``POST /sandbox/anomalies``: a metric misbehaves in the served data for a
        window (``services.sandbox.anomalies``); 201 with what changed, 422 naming the
        field that is wrong."""
        params = _parse_body(req)
        if isinstance(params, Response):
            return params
        with self._data_lock:
            spec = parse_spec(
                params, getattr(self.world, "origin_us", None), self.clock.read_bound_us()
            )
            if isinstance(spec, dict):
                return _json(422, orjson.dumps({"errors": spec}))
            summary = self.anomalies.inject(spec)
        log.info("sandbox anomaly injected: %s", summary)
        return _json(201, orjson.dumps(summary))


# ------------------------------------------------------------------------ helpers


def _page_params(
    query: dict[str, str],
) -> tuple[dict[str, list[str]], int | None, int | None, int]:
    """Validate ``updated_since``/``after_id``/``limit``; blank values count as absent."""
    errors: dict[str, list[str]] = {}
    since: int | None = None
    after_id: int | None = None
    limit = DEFAULT_PAGE_LIMIT
    raw = query.get("updated_since", "")
    if raw:
        try:
            if not _ISO_SHAPE.match(raw):
                raise TimestampError(raw)
            since = parse_us(raw)
        except TimestampError:
            errors["updated_since"] = [SINCE_ERROR]
    raw = query.get("after_id", "")
    if raw:
        if _SIGNED.match(raw):
            after_id = int(raw)
        else:
            errors["after_id"] = [AFTER_ID_ERROR]
    raw = query.get("limit", "")
    if raw:
        if _UNSIGNED.match(raw) and int(raw) >= 1:
            limit = min(int(raw), MAX_PAGE_LIMIT)  # larger values are capped, not refused
        else:
            errors["limit"] = [LIMIT_ERROR]
    return errors, since, after_id, limit


def _advance_params(params: object) -> dict[str, float] | Response:
    units = ("seconds", "minutes", "hours", "days")
    if not isinstance(params, dict) or not params or set(params) - set(units):
        return _json(422, orjson.dumps({"errors": {"advance": [f"give one or more of {units}"]}}))
    delta: dict[str, float] = {}
    for unit, value in params.items():
        if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
            return _json(422, orjson.dumps({"errors": {unit: ["must be a number >= 0"]}}))
        delta[unit] = float(value)
    return delta


def _parse_body(req: Request) -> object | Response:
    """Rails' params parsing: JSON bodies only; a malformed one is a 400."""
    if "json" not in (req.headers.get("Content-Type") or "") or not req.body.strip():
        return {}
    try:
        return orjson.loads(req.body)
    except orjson.JSONDecodeError:
        return _rails_error(400, req)


def _json(status: int, body: bytes, req: Request | None = None) -> Response:
    """A rendered JSON response; 200/201 get Rack's ETag and may turn into a 304."""
    if status not in (200, 201):
        return Response(status, body, JSON_TYPE, [("Cache-Control", "no-cache")])
    tag = etag(body)
    headers = [("ETag", tag), ("Cache-Control", "max-age=0, private, must-revalidate")]
    conditional = status == 200 and req is not None and req.method in ("GET", "HEAD")
    if conditional and _etag_matches(req.headers.get("If-None-Match"), tag):  # type: ignore[union-attr]
        return Response(304, b"", None, headers)
    return Response(status, body, JSON_TYPE, headers)


def _etag_matches(header: str | None, tag: str) -> bool:
    if not header:
        return False
    wanted = tag.removeprefix("W/")
    candidates: Iterable[str] = (c.strip() for c in header.split(","))
    return any(c == "*" or c.removeprefix("W/") == wanted for c in candidates)


def _from_write(result: WriteResponse, req: Request) -> Response:
    response = _json(result.status, result.body, req)
    response.headers = result.headers + response.headers
    return response


def _unauthorized() -> Response:
    return Response(
        401,
        b"HTTP Token: Access denied.\n",
        "text/plain; charset=utf-8",
        [("WWW-Authenticate", 'Token realm="Application"')],
    )


def _rails_error(status: int, req: Request) -> Response:
    """The exceptions app: JSON only for ``Accept: application/json``, else empty HTML."""
    if req.wants_json:
        body = orjson.dumps({"status": status, "error": HTTPStatus(status).phrase})
        return Response(status, body, ERROR_JSON_TYPE)
    return Response(status, b"", ERROR_HTML_TYPE)
