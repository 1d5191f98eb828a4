"""Password guessing is throttled per user name and per address, the same for names that do not exist
(no enumeration), with a lock, an audit entry and a notice after repeated failures."""
from datetime import datetime, timedelta, timezone

import pytest
from fastapi.testclient import TestClient

from portal.app import create_app
from portal.auth import login
from storage.throttle import ADDRESS, USER
from tests.integration.portal_fixtures import PASSWORD

pytestmark = pytest.mark.integration


def attempt(client, username, password):
    answer = client.post("/api/v1/sessions", json={"username": username, "password": password})
    return answer.status_code, answer.json(), answer.headers.get("retry-after")


def test_failed_sign_ins_make_the_next_attempt_wait_for_existing_and_unknown_names_alike(portal_data):
    with TestClient(create_app(portal_data.settings)) as client:
        seen = {}
        for username in ("alice", "nobody-of-that-name"):
            seen[username] = [attempt(client, username, "wrong password!") for _ in range(USER.free_failures + 1)]
        for username, answers in seen.items():
            assert [a[0] for a in answers] == [401] * USER.free_failures + [429], username
            assert answers[-1][2] == "1" and "too many failed sign-ins" in answers[-1][1]["detail"]
        assert seen["alice"] == seen["nobody-of-that-name"]  # the same answers: nothing tells them apart
        assert attempt(client, "alice", PASSWORD)[0] == 429  # throttled: even the right password waits
        metrics = client.get("/metrics").text
        assert 'm2c_portal_sign_ins_total{outcome="throttled"} 3.0' in metrics
        assert 'm2c_portal_sign_ins_total{outcome="refused"} 6.0' in metrics


def test_a_user_name_that_keeps_failing_is_locked_with_an_audit_entry_and_a_notice(portal_data):
    conn = portal_data.conn
    clock = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    outcomes = []
    for number in range(USER.lock_after):
        if number:
            clock += timedelta(seconds=USER.max_wait_s)  # each attempt after its wait
        result = login(conn, "alice", "wrong password!", "203.0.113.7", now=clock)
        outcomes.append(result.locked_now)
    assert outcomes == [False] * (USER.lock_after - 1) + [True]
    locked = login(conn, "alice", PASSWORD, "198.51.100.9", now=clock + timedelta(seconds=60))
    assert locked.token is None and locked.retry_after_s == pytest.approx(USER.lock_s - 60)
    audit = conn.execute("select username, action, target from portal_audit where action = 'sign_in_locked'").fetchall()
    assert audit == [("alice", "sign_in_locked", "203.0.113.7")]
    notices = conn.execute("select n.kind, n.subject from notices n join accounts a on a.id = n.account_id "
                           "where a.account_no = %s", (portal_data.alice,)).fetchall()
    assert notices == [("security", "Sign-in locked after repeated wrong passwords")]
    after = login(conn, "alice", PASSWORD, "198.51.100.9", now=clock + timedelta(seconds=USER.lock_s + 1))
    assert after.token is not None  # the lock ends by itself
    assert login(conn, "alice", "wrong password!", "198.51.100.9", now=clock + timedelta(seconds=USER.lock_s + 2)
                 ).retry_after_s == 0  # a success cleared the user name's count


def test_one_address_guessing_many_names_waits_too(portal_data):
    conn = portal_data.conn
    clock = datetime(2026, 12, 1, 9, tzinfo=timezone.utc)
    for number in range(ADDRESS.free_failures):
        assert login(conn, f"guess-{number}", "wrong password!", "192.0.2.50", now=clock).retry_after_s == 0
    assert login(conn, "guess-next", "wrong password!", "192.0.2.50", now=clock).retry_after_s == 1.0
    assert login(conn, "guess-next", "wrong password!", "192.0.2.51", now=clock).retry_after_s == 0  # another address


def test_forms_need_this_sites_origin_and_production_sends_hsts(portal_data):
    form = {"username": "alice", "password": PASSWORD}
    with TestClient(create_app(portal_data.settings), base_url="http://portal.test") as client:
        assert client.post("/login", data=form, follow_redirects=False).status_code == 403  # no Origin
        for other in ("http://evil.test", "https://portal.test", "http://portal.test:8080"):
            answer = client.post("/login", data=form, headers={"Origin": other}, follow_redirects=False)
            assert answer.status_code == 403, other  # another host, scheme or port
        answer = client.post("/login", data=form, headers={"Origin": "http://portal.test"}, follow_redirects=False)
        assert answer.status_code == 303 and "strict-transport-security" not in answer.headers
    with TestClient(create_app(portal_data.settings, production=True), base_url="http://portal.test") as client:
        answer = client.post("/login", data=form, headers={"Origin": "http://portal.test"}, follow_redirects=False)
        assert answer.status_code == 403  # production is https, whatever the proxy in front speaks
        answer = client.post("/login", data=form, headers={"Origin": "https://portal.test"}, follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
