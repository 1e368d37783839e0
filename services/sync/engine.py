"""The sync engine: pulls every resource page by page into the local database.

Shape of a run: one fetch thread per resource (up to ``concurrency`` at once; the
server is usually the slow side) and one writer thread that owns every database write
(SQLite allows one writer; one thread also keeps commits in page order). A fetcher
validates its page, works out the next cursor and queues the page; the writer commits
page + cursor in one transaction. The queue is bounded so memory stays flat.

What can go wrong, and what happens:
- 401: every fetcher stops; the resource is marked ``auth_failed``; the caller is told
  to ask for a new token. Nothing committed is lost.
- 5xx/timeouts/drops/429 beyond the client's retry budget: that resource is marked
  ``failed`` with the reason and tried again at the next tick; others carry on.
- bad records: into ``rejects`` with the reason; the page's good records go on.
- a page that does not move the cursor (Rails emitting milliseconds while more than a
  page of records share one stored microsecond): binary-search the stored instant with
  at most 10 probe requests, then go on. Never loop, never skip.
- cancel: fetchers stop between requests, the writer finishes the page it holds.
- a crash (kill -9): the database holds whole pages; the next run resumes there.
"""

from __future__ import annotations

import functools
import logging
import queue
import sys
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
from sqlalchemy import Engine, select

from services.api import errors
from services.api.client import RailsApiClient, RetryableResponse
from services.api.contract import RESOURCES, SYNC_ORDER
from services.api.records import (
    InvalidPageError,
    Key,
    ValidatedPage,
    key_of,
    validate_page,
)
from services.db.models import SyncState
from services.sync.cursor import Cursor, advance
from services.sync.writer import PageWriter

log = logging.getLogger(__name__)

# The probe searches one millisecond for the stored microsecond: 1000 candidates.
PROBE_MAX_REQUESTS = 10
# At most this many rows per write transaction when pages queue up.
MAX_BATCH_ROWS = 8000


class SyncError(RuntimeError):
    """A resource could not be synced for a reason retrying will not fix this run."""


@dataclass(slots=True)
class ResourceResult:
    resource: str
    status: str = "pending"  # ok / failed / auth_failed / cancelled
    fetched: int = 0
    upserted: int = 0
    deleted: int = 0
    rejected: int = 0
    flagged: int = 0
    pages: int = 0
    probes: int = 0
    seconds: float = 0.0
    error: str | None = None


@dataclass(slots=True)
class SyncProgress:
    """Reported after every committed page and when a resource ends."""

    resource: str
    status: str
    fetched: int
    upserted: int
    rejected: int
    pages: int
    has_more: bool


@dataclass(slots=True)
class SyncReport:
    run_id: int
    status: str  # ok / partial / failed / auth_failed / cancelled
    results: dict[str, ResourceResult] = field(default_factory=dict)
    seconds: float = 0.0
    outbox: dict[str, int] = field(default_factory=dict)

    @property
    def total_fetched(self) -> int:
        return sum(r.fetched for r in self.results.values())

    @property
    def total_rejected(self) -> int:
        return sum(r.rejected for r in self.results.values())

    @property
    def records_per_second(self) -> float:
        return self.total_fetched / self.seconds if self.seconds > 0 else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "status": self.status,
            "seconds": round(self.seconds, 3),
            "records_per_second": round(self.records_per_second, 1),
            "resources": {k: asdict(v) for k, v in self.results.items()},
            "outbox": self.outbox,
        }


@dataclass(slots=True)
class _PageWork:
    resource: str
    page: ValidatedPage
    cursor: Cursor
    has_more: bool
    precision: int | None


@dataclass(slots=True)
class _ResourceDone:
    resource: str


_DONE = object()


class SyncEngine:
    """Pulls resources from a :class:`RailsApiClient` into the database behind ``engine``."""

    def __init__(
        self,
        engine: Engine,
        client: RailsApiClient,
        *,
        page_limit: int = 1000,
        concurrency: int = 3,
        on_progress: Callable[[SyncProgress], None] | None = None,
        cancel: threading.Event | None = None,
        cadence_minutes: dict[str, int] | None = None,
        queue_pages: int = 4,
    ) -> None:
        self.engine = engine
        self.client = client
        self.page_limit = page_limit
        self.concurrency = max(1, concurrency)
        self.on_progress = on_progress
        # Cancelling the engine cancels the client's waits too.
        self.cancel = cancel or client.cancel
        if self.cancel is not client.cancel:
            client.cancel = self.cancel
        self.cadence_minutes = {
            name: res.cadence_minutes for name, res in RESOURCES.items()
        } | dict(cadence_minutes or {})
        self.writer = PageWriter(engine)
        self._queue_pages = queue_pages
        self._ms_warned = False

    # ------------------------------------------------------------------ scheduling

    def due_resources(self, now: datetime | None = None) -> list[str]:
        """Resources whose cadence has passed since their last success (DOMAIN "Schedules").

        A resource whose last attempt failed is due again after its cadence from that
        attempt too, capped at 5 minutes, so a flaky hour does not mean an hour's gap.
        """
        now = now or datetime.now(UTC)
        with self.engine.connect() as conn:
            states = {
                r.resource: r
                for r in conn.execute(
                    select(
                        SyncState.resource,
                        SyncState.last_success_at,
                        SyncState.last_attempt_at,
                        SyncState.status,
                    )
                )
            }
        due = []
        for name in SYNC_ORDER:
            cadence = timedelta(minutes=self.cadence_minutes[name])
            st = states.get(name)
            if st is None or st.last_success_at is None:
                due.append(name)
                continue
            if st.status in ("failed", "cancelled") and st.last_attempt_at is not None:
                retry = min(cadence, timedelta(minutes=5))
                if now - st.last_attempt_at >= retry:
                    due.append(name)
                    continue
            if now - st.last_success_at >= cadence:
                due.append(name)
        return due

    # ------------------------------------------------------------------ running

    def sync(
        self, resources: Iterable[str] | None = None, *, trigger: str = "manual"
    ) -> SyncReport:
        """Pull the given resources (all, in SYNC_ORDER, by default) until caught up."""
        names = list(SYNC_ORDER if resources is None else resources)
        unknown = [n for n in names if n not in RESOURCES]
        if unknown:
            raise ValueError(f"unknown resources: {', '.join(unknown)}")
        started = time.perf_counter()
        # The writer gives the GIL away inside every SQLite call and then waits for it
        # behind fetch threads running Python; a shorter switch interval makes those
        # waits a fraction of a millisecond instead of up to five.
        switch_interval = sys.getswitchinterval()
        sys.setswitchinterval(min(switch_interval, 0.0005))
        try:
            return self._sync(names, trigger, started)
        finally:
            sys.setswitchinterval(switch_interval)

    def _sync(self, names: list[str], trigger: str, started: float) -> SyncReport:
        run_id = self.writer.start_run(trigger)
        report = SyncReport(run_id=run_id, status="running")
        report.results = {n: ResourceResult(n) for n in names}
        bulk: set[str] = set()
        for n in names:
            self.writer.set_status(n, "running", run_id=run_id, attempt=True)
            # A first load into an empty table goes without secondary indexes, which are
            # built once at the end (see PageWriter.drop_indexes). Interventions are few
            # and also written locally: never.
            if n != "interventions" and self.writer.is_empty(n):
                self.writer.drop_indexes(n)
                bulk.add(n)
            else:
                self.writer.ensure_indexes(n)

        work: queue.Queue[Any] = queue.Queue(maxsize=self._queue_pages)
        stop = threading.Event()  # set on 401 or a writer failure: everyone stops
        writer_error: list[BaseException] = []
        writer_thread = threading.Thread(
            target=self._write_loop,
            args=(work, report, stop, writer_error, bulk),
            name="sync-writer",
            daemon=True,
        )
        writer_thread.start()
        try:
            with ThreadPoolExecutor(self.concurrency, thread_name_prefix="sync-fetch") as pool:
                futures = [
                    pool.submit(self._fetch_resource, n, work, report, stop, run_id) for n in names
                ]
                for fut in futures:
                    fut.result()
        finally:
            work.put(_DONE)
            writer_thread.join()

        report.seconds = time.perf_counter() - started
        if writer_error:
            for r in report.results.values():
                if r.status in ("pending", "ok"):
                    r.status, r.error = "failed", f"database write failed: {writer_error[0]}"
        report.status = _overall_status(report.results.values())
        for r in report.results.values():
            self.writer.set_status(
                r.resource, r.status, error=r.error, success=r.status == "ok", run_id=run_id
            )
            if self.on_progress:
                self.on_progress(
                    SyncProgress(
                        r.resource, r.status, r.fetched, r.upserted, r.rejected, r.pages, False
                    )
                )
        errors_text = "; ".join(
            f"{r.resource}: {r.error}" for r in report.results.values() if r.error
        )
        self.writer.finish_run(
            run_id,
            report.status,
            {k: asdict(v) for k, v in report.results.items()},
            errors_text or None,
        )
        log.info(
            "sync run %d %s: %d records in %.1fs (%.0f/s), %d rejected",
            run_id,
            report.status,
            report.total_fetched,
            report.seconds,
            report.records_per_second,
            report.total_rejected,
        )
        return report

    # ------------------------------------------------------------------ fetch side

    def _fetch_then_finish(self, resource: str, work: queue.Queue[Any], *args: Any) -> None:
        try:
            self._fetch_resource(resource, work, *args)
        finally:
            # Tells the writer this resource's pages are all queued (indexes can be built).
            work.put(_ResourceDone(resource))

    def _fetch_resource(
        self,
        resource: str,
        work: queue.Queue[Any],
        report: SyncReport,
        stop: threading.Event,
        run_id: int,
    ) -> None:
        result = report.results[resource]
        started = time.perf_counter()
        try:
            cursor = self.writer.load_cursor(resource)
            while True:
                if self.cancel.is_set():
                    raise errors.CancelledError("cancelled")
                if stop.is_set():
                    raise errors.CancelledError("stopped: another resource hit a fatal error")
                page = self.client.get_page(
                    resource,
                    updated_since_us=cursor.updated_at_us,
                    after_id=cursor.id,
                    limit=self.page_limit,
                    parse=functools.partial(_validated, resource),
                )
                if not page.size and page.has_more:
                    raise SyncError(f"{resource}: an empty page claims has_more")
                last = page.last_key
                new = advance(cursor, last)
                if page.has_more and not new.moved_past(cursor):
                    new = self._probe_stored_instant(resource, page.records(), last, cursor, result)
                precision = None if last is None else 6 if last.exact else 3
                result.fetched += page.size
                _put(work, _PageWork(resource, page, new, page.has_more, precision), self.cancel)
                cursor = new
                if not page.has_more:
                    break
            result.status = "ok"
        except errors.AuthError as exc:
            stop.set()
            result.status, result.error = "auth_failed", str(exc)
        except errors.CancelledError as exc:
            result.status, result.error = "cancelled", str(exc)
        except (errors.ApiError, SyncError) as exc:
            result.status, result.error = "failed", str(exc)
        except Exception as exc:  # a bug must not hang the run; it is reported and logged
            log.exception("sync of %s failed unexpectedly", resource)
            result.status, result.error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            result.seconds = time.perf_counter() - started
            if result.status != "ok":
                log.warning("sync of %s %s: %s", resource, result.status, result.error)

    def _probe_stored_instant(
        self,
        resource: str,
        records: list[Any],
        last: Key | None,
        cursor: Cursor,
        result: ResourceResult,
    ) -> Cursor:
        """Find the stored microsecond of the page's last record (RAILS_API.md).

        The page did not move the cursor: the server emits milliseconds and more than a
        page of records share one stored instant inside the last record's millisecond.
        ``first record at or after p belongs to this page`` holds for every p up to that
        instant and for none after it, so a binary search over the millisecond's 1000
        microseconds finds it in 10 requests.
        """
        if last is None:
            raise SyncError(
                f"{resource}: a full page without one usable id/updated_at; cannot move on"
            )
        if last.exact:
            raise SyncError(
                f"{resource}: the server repeated a page although it emits microseconds"
            )
        if not self._ms_warned:
            self._ms_warned = True
            log.warning(
                "%s: the API emits millisecond timestamps while storing microseconds; "
                "probing for the stored instant. Ask the Rails team to set "
                "ActiveSupport::JSON::Encoding.time_precision = 6.",
                resource,
            )
        page_ids = {r.get("id") for r in records if isinstance(r, dict)}
        # A malformed record (no usable id/updated_at) is recognised by its raw JSON:
        # a bad row is served the same way every time.
        page_raw = {orjson.dumps(r, option=orjson.OPT_SORT_KEYS) for r in records}

        def on_page(raw: Any) -> bool:
            first = key_of(raw)
            if first is None:
                return orjson.dumps(raw, option=orjson.OPT_SORT_KEYS) in page_raw
            return first.id in page_ids and first.updated_at_us == ms_start

        ms_start = last.updated_at_us - last.updated_at_us % 1000
        lo, hi = ms_start, ms_start + 999
        requests = 0
        while lo < hi:
            if requests >= PROBE_MAX_REQUESTS:
                raise SyncError(f"{resource}: probe did not converge in {requests} requests")
            mid = (lo + hi + 1) // 2
            probe = self.client.get_page(resource, updated_since_us=mid, limit=1)
            requests += 1
            if probe.records and on_page(probe.records[0]):
                lo = mid
            else:
                hi = mid - 1
        result.probes += requests
        found = Cursor(lo, last.id, exact=True)
        if not found.moved_past(cursor):
            raise SyncError(
                f"{resource}: the cursor is stuck at {cursor} even after probing; "
                "the server's ordering does not follow the contract"
            )
        log.info("%s: stored instant found after %d probes", resource, requests)
        return found

    # ------------------------------------------------------------------ write side

    def _write_loop(
        self,
        work: queue.Queue[Any],
        report: SyncReport,
        stop: threading.Event,
        failure: list[BaseException],
        bulk: set[str],
    ) -> None:
        try:
            self._write_pages(work, report, stop, failure, bulk)
        finally:
            # Whatever happened, no table is left without its indexes.
            for resource in sorted(bulk):
                try:
                    self.writer.ensure_indexes(resource)
                except Exception:
                    log.exception("rebuilding the indexes of %s failed", resource)

    def _write_pages(
        self,
        work: queue.Queue[Any],
        report: SyncReport,
        stop: threading.Event,
        failure: list[BaseException],
        bulk: set[str],
    ) -> None:
        done = False
        while not done:
            batch = [work.get()]
            # Whatever else is already waiting goes into the same transaction: when the
            # writer is the bottleneck, fewer commits is most of the cure.
            rows = 0
            while rows < MAX_BATCH_ROWS and batch[-1] is not _DONE:
                try:
                    batch.append(work.get_nowait())
                except queue.Empty:
                    break
                if isinstance(batch[-1], _PageWork):
                    rows += len(batch[-1].page.rows)
            if batch[-1] is _DONE:
                batch.pop()
                done = True
            finished = [w.resource for w in batch if isinstance(w, _ResourceDone)]
            batch = [w for w in batch if not isinstance(w, _ResourceDone)]
            if batch and not failure:
                self._commit_batch(batch, report, stop, failure)
            for resource in finished:
                if resource in bulk and not failure:
                    started = time.perf_counter()
                    try:
                        self.writer.ensure_indexes(resource)
                    except Exception as exc:
                        log.exception("building the indexes of %s failed", resource)
                        failure.append(exc)
                        stop.set()
                        continue
                    bulk.discard(resource)
                    log.info("%s: indexes built in %.1fs", resource, time.perf_counter() - started)

    def _commit_batch(
        self,
        batch: list[_PageWork],
        report: SyncReport,
        stop: threading.Event,
        failure: list[BaseException],
    ) -> None:
        try:
            results = self.writer.commit_pages(
                [(w.resource, w.page, w.cursor, w.precision) for w in batch], report.run_id
            )
        except Exception as exc:
            log.exception("writing %d page(s) failed", len(batch))
            failure.append(exc)
            stop.set()
            return
        for item, res in zip(batch, results, strict=True):
            r = report.results[item.resource]
            r.pages += 1
            r.upserted += res.upserted
            r.deleted += res.deleted
            r.rejected += res.rejected
            r.flagged += res.flagged
            if self.on_progress:
                self.on_progress(
                    SyncProgress(
                        item.resource,
                        "running",
                        r.fetched,
                        r.upserted,
                        r.rejected,
                        r.pages,
                        item.has_more,
                    )
                )


def _validated(resource: str, body: bytes) -> ValidatedPage:
    """Validate where the page arrives; a body that is not a page is worth a retry."""
    try:
        return validate_page(resource, body)
    except InvalidPageError as exc:
        raise RetryableResponse(str(exc)) from None


def _put(work: queue.Queue[Any], item: Any, cancel: threading.Event) -> None:
    """Queue a page, waking up to notice a cancel while the writer is behind."""
    while True:
        try:
            work.put(item, timeout=0.2)
            return
        except queue.Full:
            if cancel.is_set():
                raise errors.CancelledError("cancelled") from None


def _overall_status(results: Iterable[ResourceResult]) -> str:
    statuses = {r.status for r in results}
    if statuses <= {"ok"}:
        return "ok"
    if "auth_failed" in statuses:
        return "auth_failed"
    if statuses <= {"cancelled", "ok"}:
        return "cancelled"
    if "ok" in statuses:
        return "partial"
    return "failed"
