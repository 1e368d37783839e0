"""The server answers byte for byte like the Rails 6.1 app of rails-samples.txt.

The expected bodies below are copied from ``shared/design/rails-samples.txt``; the world
is built so the same records exist, stored with microseconds (and float noise in the
decimals) that Rails would truncate and round away.
"""

from __future__ import annotations

import http.client

import pytest

from services.api.rails_time import US_PER_DAY, parse_us
from services.sandbox.clock import SandboxClock
from tests.fixtures.sandbox import TEST_TOKEN, make_log, stub_world

HEALTH = b'{"status":"ok","server_time":"2026-11-22T00:33:27.532Z"}'
HEALTH_ETAG = 'W/"bfa911d73df7382e2a8adf2dbfe7c138"'

SESSIONS = (
    b'{"data":[{"id":373,"booking_id":387,"tutor_id":213,"customer_id":1413,'
    b'"subject":"chemistry","start_time":"2026-05-26T03:00:00.000Z",'
    b'"end_time":"2026-05-26T04:00:00.000Z","status":"completed","rating":4,'
    b'"first_session":true,"rescheduled_by":null,"reschedule_count":0,'
    b'"technical_issue":false,"learning_objectives_met":"0.84","price":"46.03",'
    b'"tutor_earnings":"28.77","created_at":"2026-05-18T04:29:16.166Z",'
    b'"updated_at":"2026-05-26T04:37:12.321Z","deleted_at":null},{"id":609,'
    b'"booking_id":642,"tutor_id":230,"customer_id":296,"subject":"french",'
    b'"start_time":"2026-05-26T02:00:00.000Z","end_time":"2026-05-26T03:00:00.000Z",'
    b'"status":"completed","rating":4,"first_session":true,"rescheduled_by":null,'
    b'"reschedule_count":0,"technical_issue":false,"learning_objectives_met":"0.7",'
    b'"price":"45.84","tutor_earnings":"28.65","created_at":"2026-05-19T22:09:59.439Z",'
    b'"updated_at":"2026-05-26T04:37:12.418Z","deleted_at":null}],"meta":{"has_more":true}}'
)
SESSIONS_ETAG = 'W/"de8c23a84e7f484577ba875a01ea744f"'

TUTORS = (
    b'{"data":[{"id":111,"name":"Omar Rossi","email":"tutor111@example.test",'
    b'"subjects":["sat_prep","calculus"],"status":"active",'
    b'"hired_at":"2024-07-06T00:26:29.866Z","churned_at":null,"manager_id":2,'
    b'"hourly_rate":"40.5","certifications":["ap_certified"],"years_experience":8,'
    b'"instant_book_enabled":true,"timezone":"Pacific/Honolulu",'
    b'"created_at":"2024-07-06T00:26:29.866Z","updated_at":"2026-01-06T16:46:53.786Z",'
    b'"deleted_at":null}],"meta":{"has_more":true}}'
)
TUTORS_ETAG = 'W/"186ece0d04aab1cd050be61aca3fda96"'

KEY = "f37bef67-a8f4-4d21-910d-c53b3d2b8c32"
CREATED = (
    b'{"id":49,"tutor_id":7,"intervention_type":"manager_coaching","status":"open",'
    b'"priority":80,"due_at":"2026-12-01T00:00:00.000Z","assigned_to_id":4,'
    b'"reason":"Critical risk","source_alert_key":"churn_critical:tutor:7",'
    b'"notes":"\\u003cb\\u003e\\u0026","outcome":null,'
    b'"idempotency_key":"f37bef67-a8f4-4d21-910d-c53b3d2b8c32","lock_version":0,'
    b'"created_at":"2026-11-22T00:33:27.788Z","updated_at":"2026-11-22T00:33:27.788Z",'
    b'"deleted_at":null}'
)
CREATED_ETAG = 'W/"ce1ca52b1cf132e97750573b7d0fa2d4"'
PATCHED = (
    b'{"status":"in_progress","notes":"called","lock_version":1,"priority":80,"id":49,'
    b'"tutor_id":7,"intervention_type":"manager_coaching",'
    b'"due_at":"2026-12-01T00:00:00.000Z","assigned_to_id":4,"reason":"Critical risk",'
    b'"source_alert_key":"churn_critical:tutor:7","outcome":null,'
    b'"idempotency_key":"f37bef67-a8f4-4d21-910d-c53b3d2b8c32",'
    b'"created_at":"2026-11-22T00:33:27.788Z","updated_at":"2026-11-22T00:33:28.058Z",'
    b'"deleted_at":null}'
)
PATCHED_ETAG = 'W/"bbb369a42312e4b59d9fb01b67295c44"'
STALE = (
    b'{"error":"stale_object","message":"lock_version 0 is stale; the record is at 1",'
    b'"current":{"id":49,"tutor_id":7,"intervention_type":"manager_coaching",'
    b'"status":"in_progress","priority":80,"due_at":"2026-12-01T00:00:00.000Z",'
    b'"assigned_to_id":4,"reason":"Critical risk","source_alert_key":"churn_critical:tutor:7",'
    b'"notes":"called","outcome":null,'
    b'"idempotency_key":"f37bef67-a8f4-4d21-910d-c53b3d2b8c32","lock_version":1,'
    b'"created_at":"2026-11-22T00:33:27.788Z","updated_at":"2026-11-22T00:33:28.058Z",'
    b'"deleted_at":null}}'
)
INVALID_POST = (
    b'{"errors":{"tutor":["must exist"],"intervention_type":["is not included in the list"],'
    b'"priority":["is not a number"]}}'
)
SINCE_AND_LIMIT_422 = (
    b'{"errors":{"updated_since":["is not an ISO 8601 timestamp (e.g. 2026-11-20T14:03:11.482Z;'
    b' percent-encode \'+\')"],"limit":["must be an integer from 1 to 1000"]}}'
)
PLUS_422 = (
    b'{"errors":{"updated_since":["is not an ISO 8601 timestamp (e.g. 2026-11-20T14:03:11.482Z;'
    b" percent-encode '+')\"]}}"
)


def _us(text: str, extra_us: int = 0) -> int:
    return parse_us(text) + extra_us


def _session(id_, booking, tutor, customer, subject, start, end, lom, price, earn, c, u):
    return {
        "id": id_,
        "booking_id": booking,
        "tutor_id": tutor,
        "customer_id": customer,
        "subject": subject,
        "start_time": _us(start),
        "end_time": _us(end),
        "status": "completed",
        "rating": 4,
        "first_session": True,
        "rescheduled_by": None,
        "reschedule_count": 0,
        "technical_issue": False,
        "learning_objectives_met": lom,
        "price": price,
        "tutor_earnings": earn,
        # Stored with microseconds: Rails emits them truncated to milliseconds.
        "created_at": _us(c, 999),
        "updated_at": _us(u, 871),
        "deleted_at": None,
    }


def _tutor(id_, updated, **over):
    base = {
        "id": id_,
        "name": "Omar Rossi",
        "email": f"tutor{id_}@example.test",
        "subjects": ("sat_prep", "calculus"),
        "status": "active",
        "hired_at": _us("2024-07-06T00:26:29.866Z", 412),
        "churned_at": None,
        "manager_id": 2,
        "hourly_rate": 40.5000000001,
        "certifications": ("ap_certified",),
        "years_experience": 8,
        "instant_book_enabled": True,
        "timezone": "Pacific/Honolulu",
        "created_at": _us("2024-07-06T00:26:29.866Z", 412),
        "updated_at": updated,
        "deleted_at": None,
    }
    base.update(over)
    return base


@pytest.fixture
def rails(sandbox_server_factory):
    """A server over the samples' records, clock at the health sample's instant."""
    sessions = [
        _session(
            373, 387, 213, 1413, "chemistry", "2026-05-26T03:00:00Z", "2026-05-26T04:00:00Z",
            0.84, 46.029999999, 28.77, "2026-05-18T04:29:16.166Z", "2026-05-26T04:37:12.321Z",
        ),
        _session(
            609, 642, 230, 296, "french", "2026-05-26T02:00:00Z", "2026-05-26T03:00:00Z",
            0.7000001, 45.84, 28.65, "2026-05-19T22:09:59.439Z", "2026-05-26T04:37:12.418Z",
        ),
        _session(
            2, 1, 1, 1, "math", "2026-05-27T02:00:00Z", "2026-05-27T03:00:00Z",
            0.5, 40.0, 25.0, "2026-05-20T00:00:00Z", "2026-05-27T04:00:00Z",
        ),
    ]  # fmt: skip
    tutors = [
        _tutor(7, _us("2025-01-01T00:00:00Z"), name="Ann Lee"),
        _tutor(110, _us("2026-01-05T10:00:00.250Z", 13)),
        _tutor(111, _us("2026-01-06T16:46:53.786Z", 530)),
        _tutor(112, _us("2026-01-07T00:00:00Z")),
    ]
    managers = [
        {"id": i, "name": f"M{i}", "email": f"m{i}@x.test", "created_at": 0, "updated_at": 1}
        for i in (2, 4)
    ]
    interventions = [
        {
            "id": 48,
            "tutor_id": 7,
            "intervention_type": "recognition",
            "status": "completed",
            "priority": 10,
            "lock_version": 0,
            "created_at": _us("2026-11-01T00:00:00Z"),
            "updated_at": _us("2026-11-01T00:00:00Z"),
        }
    ]
    anchor = _us("2026-11-22T00:33:27.532Z", 640)
    world = stub_world(
        {
            "sessions": make_log("sessions", sessions),
            "tutors": make_log("tutors", tutors),
            "managers": make_log("managers", managers),
            "interventions": make_log("interventions", interventions),
        },
        anchor_us=anchor,
        horizon_us=anchor + 90 * US_PER_DAY,
    )
    return sandbox_server_factory(world=world, clock=SandboxClock.fixed(anchor))


def _raw(handle, method, path, body=None, headers=None):
    """One request over http.client: the status line, headers and body as sent."""
    conn = http.client.HTTPConnection("127.0.0.1", handle.server.port, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


AUTH = {"Authorization": f"Bearer {TEST_TOKEN}"}


def test_health_needs_no_token_and_matches_the_sample(rails):
    status, headers, body = _raw(rails, "GET", "/api/v1/health")
    assert status == 200
    assert body == HEALTH
    assert headers["ETag"] == HEALTH_ETAG
    assert headers["Content-Type"] == "application/json; charset=utf-8"


def test_first_sessions_page_is_the_sample_byte_for_byte(rails):
    status, headers, body = _raw(rails, "GET", "/api/v1/sessions?limit=2", headers=AUTH)
    assert status == 200
    assert body == SESSIONS
    assert headers["ETag"] == SESSIONS_ETAG
    assert headers["Content-Length"] == str(len(SESSIONS))


def test_tutors_after_a_cursor_is_the_sample(rails):
    path = "/api/v1/tutors?updated_since=2026-01-05T10%3A00%3A00.250013Z&after_id=110&limit=1"
    status, headers, body = _raw(rails, "GET", path, headers=AUTH)
    assert (status, body, headers["ETag"]) == (200, TUTORS, TUTORS_ETAG)


@pytest.mark.parametrize("auth", [None, "Bearer wrong-token", "Basic dXNlcjpwYXNz", "Bearer "])
def test_401_is_plain_text_with_the_token_challenge(rails, auth):
    headers = {"Accept": "application/json"} | ({"Authorization": auth} if auth else {})
    status, got, body = _raw(rails, "GET", "/api/v1/sessions", headers=headers)
    assert status == 401
    assert got["Content-Type"] == "text/plain; charset=utf-8"
    assert got["WWW-Authenticate"] == 'Token realm="Application"'
    assert body == b"HTTP Token: Access denied.\n"
    assert "ETag" not in got


def test_rails_token_scheme_is_accepted_too(rails):
    for header in (f"Token {TEST_TOKEN}", f'Token token="{TEST_TOKEN}"'):
        assert _raw(rails, "GET", "/api/v1/managers", headers={"Authorization": header})[0] == 200


def test_422_bodies_for_bad_query_parameters(rails):
    status, headers, body = _raw(
        rails, "GET", "/api/v1/sessions?updated_since=yesterday&limit=abc", headers=AUTH
    )
    assert (status, body) == (422, SINCE_AND_LIMIT_422)
    assert headers["Content-Type"] == "application/json; charset=utf-8"
    # A raw "+" in the offset arrives as a space: not a timestamp.
    path = "/api/v1/sessions?updated_since=2026-11-20T14:03:11.482+00:00"
    assert _raw(rails, "GET", path, headers=AUTH)[::2] == (422, PLUS_422)
    # Percent-encoded, the same offset is fine.
    path = "/api/v1/sessions?updated_since=2026-11-20T14:03:11.482%2B00:00"
    assert _raw(rails, "GET", path, headers=AUTH)[0] == 200


@pytest.mark.parametrize(
    ("query", "errors"),
    [
        ("limit=0", {"limit"}),
        ("limit=-5", {"limit"}),
        ("limit=2.5", {"limit"}),
        ("after_id=x&updated_since=2026-01-01T00:00:00Z", {"after_id"}),
        ("updated_since=2026-11-20 14:03:11Z", {"updated_since"}),
        ("updated_since=2026-11-20T14:03:11", {"updated_since"}),  # naive
        ("updated_since=2026-02-30T00:00:00Z", {"updated_since"}),  # impossible date
    ],
)
def test_each_invalid_parameter_is_named(rails, query, errors):
    with rails.client() as c:
        r = c.get("/api/v1/sessions?" + query.replace(" ", "%20"))
    assert r.status_code == 422
    assert set(r.json()["errors"]) == errors


def test_404_is_json_only_with_accept(rails):
    status, headers, body = _raw(rails, "GET", "/api/v1/nonsense", headers=AUTH)
    assert (status, body) == (404, b"")
    assert headers["Content-Type"] == "text/html; charset=UTF-8"
    assert headers["Content-Length"] == "0"
    status, headers, body = _raw(
        rails, "GET", "/api/v1/nonsense", headers={"Accept": "application/json"}
    )
    assert (status, body) == (404, b'{"status":404,"error":"Not Found"}')
    assert headers["Content-Type"] == "application/json; charset=UTF-8"
    assert headers["Content-Length"] == "34"
    # Routing comes before auth: an unknown path is 404 even with no token.
    assert _raw(rails, "DELETE", "/api/v1/sessions")[0] == 404
    assert _raw(rails, "GET", "/api/v1/interventions/48", headers=AUTH)[0] == 404


def test_etag_and_conditional_get(rails):
    status, headers, _ = _raw(rails, "GET", "/api/v1/sessions?limit=2", headers=AUTH)
    tag = headers["ETag"]
    status, headers, body = _raw(
        rails, "GET", "/api/v1/sessions?limit=2", headers=AUTH | {"If-None-Match": tag}
    )
    assert (status, body, headers["ETag"]) == (304, b"", tag)
    assert "Content-Type" not in headers
    # A different page does not match.
    status, _, body = _raw(
        rails, "GET", "/api/v1/sessions?limit=1", headers=AUTH | {"If-None-Match": tag}
    )
    assert status == 200
    assert body


def test_write_back_matches_the_samples(rails):
    post = (
        b'{"intervention":{"tutor_id":7,"intervention_type":"manager_coaching","priority":80,'
        b'"due_at":"2026-12-01T00:00:00Z","assigned_to_id":4,"reason":"Critical risk",'
        b'"source_alert_key":"churn_critical:tutor:7","notes":"<b>&"}}'
    )
    json_headers = AUTH | {"Content-Type": "application/json", "Idempotency-Key": KEY}
    rails.clock.set(_us("2026-11-22T00:33:27.788Z", 100))
    status, headers, body = _raw(rails, "POST", "/api/v1/interventions", post, json_headers)
    assert (status, body, headers["ETag"]) == (201, CREATED, CREATED_ETAG)
    assert headers["Location"] == f"{rails.base_url}/api/v1/interventions/49"

    changed = post.replace(b"Critical risk", b"something else")
    status, headers, body = _raw(rails, "POST", "/api/v1/interventions", changed, json_headers)
    assert (status, body, headers["ETag"]) == (200, CREATED, CREATED_ETAG)
    assert headers["Idempotent-Replayed"] == "true"

    rails.clock.set(_us("2026-11-22T00:33:28.058Z", 5))
    patch = b'{"intervention":{"status":"in_progress","notes":"called","lock_version":0}}'
    status, headers, body = _raw(rails, "PATCH", "/api/v1/interventions/49", patch, json_headers)
    assert (status, body, headers["ETag"]) == (200, PATCHED, PATCHED_ETAG)

    status, headers, body = _raw(rails, "PATCH", "/api/v1/interventions/49", patch, json_headers)
    assert (status, body) == (409, STALE)
    assert "ETag" not in headers

    no_lock = b'{"intervention":{"status":"completed"}}'
    status, _, body = _raw(rails, "PATCH", "/api/v1/interventions/49", no_lock, json_headers)
    assert (status, body) == (422, b'{"errors":{"lock_version":["must be given"]}}')


def test_invalid_post_is_the_sample_422(rails):
    body = b'{"intervention":{"tutor_id":999999,"intervention_type":"hug","priority":"high"}}'
    headers = AUTH | {"Content-Type": "application/json", "Idempotency-Key": "k-invalid"}
    status, got, out = _raw(rails, "POST", "/api/v1/interventions", body, headers)
    assert (status, out) == (422, INVALID_POST)
    assert got["Content-Type"] == "application/json; charset=utf-8"


def test_malformed_json_is_400_json_only_with_accept(rails):
    headers = AUTH | {"Content-Type": "application/json", "Idempotency-Key": "k-bad-json"}
    status, got, body = _raw(rails, "POST", "/api/v1/interventions", b'{"intervention": {', headers)
    assert (status, body) == (400, b"")
    assert got["Content-Type"] == "text/html; charset=UTF-8"
    status, got, body = _raw(
        rails,
        "POST",
        "/api/v1/interventions",
        b"{nope",
        headers | {"Accept": "application/json"},
    )
    assert (status, body) == (400, b'{"status":400,"error":"Bad Request"}')
    assert got["Content-Type"] == "application/json; charset=UTF-8"
    assert got["Content-Length"] == "36"


def test_keep_alive_serves_many_requests_on_one_connection(rails):
    conn = http.client.HTTPConnection("127.0.0.1", rails.server.port, timeout=5)
    try:
        for _ in range(5):
            conn.request("GET", "/api/v1/sessions?limit=1", headers=AUTH)
            resp = conn.getresponse()
            assert resp.status == 200
            assert resp.getheader("Connection") is None
            resp.read()
        conn.request("GET", "/api/v1/nope")  # errors keep the connection too
        resp = conn.getresponse()
        resp.read()
        conn.request("GET", "/api/v1/health")
        assert conn.getresponse().status == 200
    finally:
        conn.close()
    assert rails.stats.count(path="/api/v1/sessions", status=200) == 5
