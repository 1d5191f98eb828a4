"""The portal's API on the real PostgreSQL and Redis: what customers and staff can see and do, and
what they cannot."""
import json
import re
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path

import pytest
import redis
from fastapi.testclient import TestClient

from portal.app import create_app
from meterdata.formats import espi
from tests.integration.portal_fixtures import PASSWORD, bill_the_period

pytestmark = pytest.mark.integration
XSD = Path(__file__).resolve().parents[3] / "shared" / "samples" / "schemas" / "espi.xsd"
PUBLIC = {"/login", "/healthz", "/metrics", "/api/openapi.json", "/api/docs",
          "/api/v1/sessions", "/", "/static/tariff_editor.js"}
OWN_SESSION = {"/logout", "/api/v1/sessions/current"}  # act on the caller's own session only


@pytest.fixture
def client(portal_data):
    with TestClient(create_app(portal_data.settings)) as client:
        yield client


def routes(found):
    """Every route, those of included routers too."""
    for route in found:
        if hasattr(route, "original_router"):
            yield from routes(route.original_router.routes)
        else:
            yield route


def token(client, user):
    answer = client.post("/api/v1/sessions", json={"username": user, "password": PASSWORD})
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def test_customer_sees_usage_estimate_bills_and_pays(client, portal_data):
    alice = token(client, "alice")
    number = portal_data.alice
    assert client.post("/api/v1/sessions", json={"username": "alice", "password": "wrong password!"}).status_code == 401
    assert client.get("/api/v1/me", headers=alice).json() == {"username": "alice", "role": "customer",
                                                               "accounts": [number]}
    summary = client.get(f"/api/v1/accounts/{number}", headers=alice).json()
    assert summary["account_no"] == number and summary["services"]

    days = client.get(f"/api/v1/accounts/{number}/usage", headers=alice,
                      params={"start": "2026-10-20", "end": "2026-11-19"}).json()["usage"]
    stored = dict(((s, d.isoformat()), q) for s, d, q in portal_data.conn.execute(
        "select sa.service, d.local_day, d.quantity from agreement_usage_daily d join service_agreements sa on sa.id = "
        "d.service_agreement_id join accounts a on a.id = sa.account_id where a.account_no = %s and d.channel = 1",
        (number,)).fetchall())
    power = {m.service: m.power_of_ten for m in portal_data.utility.meters if m.account_no == number}
    assert {(r["service"], r["day"]): Decimal(r["quantity"]) for r in days} == {
        k: Decimal(v).scaleb(power[k[0]]) for k, v in stored.items()}
    intervals = client.get(f"/api/v1/accounts/{number}/usage", headers=alice,
                           params={"view": "interval", "start": "2026-11-01", "end": "2026-11-02"}).json()["usage"]
    for service in {r["service"] for r in intervals}:  # the fall-back day: 25 hours of intervals
        step = next(r["interval_s"] for r in intervals if r["service"] == service)
        assert sum(1 for r in intervals if r["service"] == service) <= 25 * 3600 // step
    assert client.get(f"/api/v1/accounts/{number}/usage", headers=alice,
                      params={"view": "interval", "start": "2026-01-01", "end": "2026-11-02"}).status_code == 422

    # the running estimate from Redis, and the same figures from PostgreSQL when Redis has lost them
    cached = client.get(f"/api/v1/accounts/{number}/estimate", headers=alice)
    assert cached.headers["x-m2c-source"] == "cache"
    redis.Redis.from_url(portal_data.settings.redis_url).flushdb()
    computed = client.get(f"/api/v1/accounts/{number}/estimate", headers=alice)
    assert computed.headers["x-m2c-source"] == "database"
    for key in ("bill_to_date_minor", "projected_minor", "period_start", "days_elapsed"):
        assert computed.json()[key] == cached.json()[key]
    assert [s["bill_to_date_lines"] for s in computed.json()["services"]] == \
        [s["bill_to_date_lines"] for s in cached.json()["services"]]

    bill_the_period(portal_data)
    bills = client.get(f"/api/v1/accounts/{number}/bills", headers=alice).json()["bills"]
    assert len(bills) == 1
    bill = client.get(f"/api/v1/accounts/{number}/bills/{bills[0]['id']}", headers=alice).json()
    assert sum(line["amount_minor"] for line in bill["lines"]) == bill["current_charges_minor"]
    pdf = client.get(f"/api/v1/accounts/{number}/bills/{bills[0]['id']}", headers=alice, params={"format": "pdf"})
    assert pdf.headers["content-type"] == "application/pdf" and pdf.content.startswith(b"%PDF")
    html = client.get(f"/api/v1/accounts/{number}/bills/{bills[0]['id']}", headers=alice, params={"format": "html"})
    assert number in html.text

    due = bills[0]["total_due_minor"]
    payment = {"amount": f"{Decimal(due).scaleb(-2):.2f}", "token": "tok_approved", "idempotency_key": "pay-0001"}
    paid = client.post(f"/api/v1/accounts/{number}/payments", headers=alice, json=payment)
    assert paid.status_code == 201 and paid.json()["status"] == "applied"
    again = client.post(f"/api/v1/accounts/{number}/payments", headers=alice, json=payment)
    assert again.json()["status"] == "duplicate"  # a retried request does not pay twice
    declined = client.post(f"/api/v1/accounts/{number}/payments", headers=alice,
                           json=dict(payment, token="tok_declined", idempotency_key="pay-0002"))
    assert declined.status_code == 402
    assert client.get(f"/api/v1/accounts/{number}", headers=alice).json()["balance_minor"] == 0
    assert [p["amount_minor"] for p in client.get(f"/api/v1/accounts/{number}/payments",
                                                   headers=alice).json()["payments"]] == [due]

    alerts = {"high_usage": True, "high_usage_amount": "150.00", "leak": True}
    assert client.put(f"/api/v1/accounts/{number}/alerts", headers=alice, json=alerts).json() == alerts
    assert client.get(f"/api/v1/accounts/{number}/alerts", headers=alice).json() == alerts
    assert client.delete("/api/v1/sessions/current", headers=alice).status_code == 204
    assert client.get("/api/v1/me", headers=alice).status_code == 401


def test_green_button_export_validates_and_reads_back(client, portal_data, tmp_path):
    alice = token(client, "alice")
    answer = client.get(f"/api/v1/accounts/{portal_data.alice}/greenbutton", headers=alice,
                        params={"start": "2026-10-30", "end": "2026-11-03"})
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("application/atom+xml")
    path = tmp_path / "export.xml"
    path.write_bytes(answer.content)
    parsed = espi.parse(str(path))
    assert parsed.rejected == []
    exported = {(s.source_id, t): v for s in parsed.series for t, v in zip(s.starts, s.values)}
    stored = {(meter, int(start)): value for meter, start, value in portal_data.conn.execute(
        "select m.meter_no, extract(epoch from r.interval_start), r.value from interval_reads r join meters m on "
        "m.id = r.meter_id join agreement_meters am on am.meter_id = m.id join service_agreements sa on sa.id = am.service_agreement_id join accounts a on "
        "a.id = sa.account_id where a.account_no = %s and r.local_day >= '2026-10-30' and r.local_day < '2026-11-03'",
        (portal_data.alice,)).fetchall()}
    assert exported == stored and len(stored) > 0
    if not XSD.exists():
        pytest.skip("the ESPI schema (shared samples) is not present")
    from lxml import etree

    class AtomStub(etree.Resolver):
        def resolve(self, url, public_id, context):
            if url.endswith("atom.xsd"):
                return self.resolve_string('<xs:schema xmlns:xs="http://www.w3.org/2001/XMLSchema" '
                                           'targetNamespace="http://www.w3.org/2005/Atom"/>', context)
            return None

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(AtomStub())
    schema = etree.XMLSchema(etree.parse(str(XSD), parser))
    payloads = etree.parse(str(path)).getroot().iterfind(".//{http://www.w3.org/2005/Atom}content/*")
    checked = 0
    for payload in payloads:
        assert schema.validate(etree.ElementTree(payload)), (payload.tag, schema.error_log.last_error)
        checked += 1
    assert checked >= 4


def test_every_route_refuses_callers_who_may_not_use_it(client, portal_data):
    alice, bob, clerk = token(client, "alice"), token(client, "bob"), token(client, "clerk")
    bill_the_period(portal_data)
    alice_bill = portal_data.conn.execute("select b.id from bills b join accounts a on a.id = b.account_id "
                                          "where a.account_no = %s", (portal_data.alice,)).fetchone()[0]
    values = {"account_no": portal_data.alice, "bill_id": alice_bill, "exception_id": 1, "payment_id": 1,
              "run_id": 1, "action": "accept", "order_id": 1, "case_id": 1, "code": "E-RES"}
    walked = 0
    for route in routes(client.app.routes):
        path = getattr(route, "path", "")
        if path in PUBLIC or not hasattr(route, "methods"):
            continue
        url = re.sub(r"{(\w+)}", lambda m: str(values[m.group(1)]), path)
        for method in route.methods - {"HEAD", "OPTIONS"}:
            walked += 1
            anonymous = client.request(method, url, json={}, follow_redirects=False)
            if path in OWN_SESSION:
                continue
            assert anonymous.status_code in (401, 403, 422), (method, path, anonymous.status_code)
            other = client.request(method, url, headers=bob, json={}, follow_redirects=False)
            if "{account_no}" in path and not path.startswith("/api/v1/staff") and not path.startswith("/staff"):
                assert other.status_code in (404, 422), (method, path, other.status_code)  # not bob's account
            elif path.startswith(("/api/v1/staff", "/staff")):
                assert other.status_code in (403, 422), (method, path, other.status_code)
    assert walked >= 30
    # and the owner, and staff, do get through
    assert client.get(f"/api/v1/accounts/{portal_data.alice}/bills/{alice_bill}", headers=alice).status_code == 200
    assert client.get(f"/api/v1/accounts/{portal_data.alice}", headers=clerk).status_code == 200
    assert client.get(f"/api/v1/accounts/{portal_data.bob}/bills/{alice_bill}", headers=bob).status_code == 404


def test_staff_work_queues_tariffs_bill_runs_with_roles_and_audit(client, portal_data):
    clerk, supervisor, admin = token(client, "clerk"), token(client, "supervisor"), token(client, "admin")
    found = client.get("/api/v1/staff/accounts", headers=clerk, params={"q": portal_data.alice}).json()["accounts"]
    assert [a["account_no"] for a in found] == [portal_data.alice]
    view = client.get(f"/api/v1/staff/accounts/{portal_data.alice}", headers=clerk).json()
    assert view["meters"] and view["account_no"] == portal_data.alice

    queue = client.get("/api/v1/staff/exceptions", headers=clerk, params={"rule": "negative"}).json()["exceptions"]
    assert queue and all("negative" in e["rules"] for e in queue)
    first, second = queue[0]["id"], queue[1]["id"]
    evidence = client.get(f"/api/v1/staff/exceptions/{first}", headers=clerk).json()
    assert any(v < 0 for v in evidence["values"]) and len(evidence["flags"]) == len(evidence["values"])
    assert client.post(f"/api/v1/staff/exceptions/{first}/release", headers=clerk, json={"why": "x" * 5}).status_code == 403
    assert client.post(f"/api/v1/staff/exceptions/{first}/accept", headers=clerk, json={"why": ""}).status_code == 422
    assert client.post(f"/api/v1/staff/exceptions/{first}/accept", headers=clerk,
                       json={"why": "confirmed with the meter shop"}).json() == {"moved": 1}
    # project errors come through as problem documents with their class's code and status
    for answer, status, code in (
            (client.post(f"/api/v1/staff/exceptions/{first}/override", headers=supervisor,
                         json={"why": "after it was accepted", "values": {"0": 1}}), 409, "exception_action_refused"),
            (client.post("/api/v1/staff/payments/99999/match", headers=clerk,
                         json={"account_no": portal_data.alice, "why": "a payment that is not there"}),
             404, "unknown_payment"),
            (client.post("/api/v1/staff/bill-runs", headers=supervisor, json={"cycle": "NO-SUCH-CYCLE"}),
             404, "unknown_period")):
        assert (answer.status_code, answer.headers["content-type"]) == (status, "application/problem+json"), answer.text
        assert (answer.json()["code"], answer.json()["status"]) == (code, status) and answer.json()["detail"]
    position = next(n for n, v in enumerate(evidence["values"]) if v < 0) if False else \
        next(n for n, f in enumerate(client.get(f"/api/v1/staff/exceptions/{second}", headers=clerk).json()["flags"]) if f)
    edited = client.post(f"/api/v1/staff/exceptions/{second}/override", headers=supervisor,
                         json={"why": "read from the register", "values": {str(position): 123}})
    assert edited.status_code == 200, edited.text

    bad = client.post("/api/v1/staff/tariffs/validate", headers=clerk, json={"document": 'code = "X"\nservice = 5\n'})
    assert bad.json()["valid"] is False and all(p["path"] for p in bad.json()["problems"])
    document = (Path(__file__).resolve().parents[2] / "rating" / "tariffs" / "water_residential.toml").read_text()
    changed = document.replace('"2026-01-01"', '"2026-01-01"', 1) + "\n# reviewed\n"
    assert "reviewed" in client.post("/api/v1/staff/tariffs/diff", headers=clerk, json={"document": changed}).json()["diff"]
    assert client.post("/api/v1/staff/tariffs/publish", headers=clerk,
                       json={"document": changed, "why": "rate case 2026"}).status_code == 403
    published = client.post("/api/v1/staff/tariffs/publish", headers=supervisor,
                            json={"document": changed, "why": "rate case 2026"})
    assert published.status_code == 201

    assert client.post("/api/v1/staff/bill-runs", headers=clerk, json={"cycle": portal_data.utility.cycle_code}
                       ).status_code == 403
    started = client.post("/api/v1/staff/bill-runs", headers=supervisor, json={"cycle": portal_data.utility.cycle_code})
    assert started.status_code == 202
    for thread in client.app.state.bill_runs.threads:
        thread.join(120)
    runs = client.get("/api/v1/staff/bill-runs", headers=clerk).json()["bill_runs"]
    progress = client.get(f"/api/v1/staff/bill-runs/{runs[0]['id']}", headers=clerk).json()
    assert progress["status"] == "finished" and progress["done_share"] == 1.0
    assert sum(progress["outcomes"].values()) == progress["accounts_in_cycle"]
    assert {h["reason"].split(":")[0] for h in progress["held"]} <= {"blocking_exceptions", "missing_reads"}

    actions = [e["action"] for e in client.get("/api/v1/staff/audit", headers=admin).json()["entries"]]
    assert {"exception.accept", "exception.override", "tariff.publish", "bill_run.start"} <= set(actions)
    assert client.get("/api/v1/staff/audit", headers=supervisor).status_code == 403


def test_input_limits(client, portal_data):
    alice = token(client, "alice")
    assert client.post("/api/v1/sessions", content=b"x" * 2_000_000,
                       headers={"Content-Type": "application/json"}).status_code == 413
    assert client.get("/api/v1/accounts/" + "A" * 40, headers=alice).status_code in (404, 422)
    assert client.get(f"/api/v1/accounts/{portal_data.alice}/bills", headers=alice,
                      params={"limit": 10_000}).status_code == 422
    assert client.post(f"/api/v1/accounts/{portal_data.alice}/payments", headers=alice,
                       json={"amount": "1e9", "token": "tok_approved", "idempotency_key": "k" * 8}).status_code == 422
    assert client.get("/api/v1/staff/accounts", headers=token(client, "clerk"), params={"q": "%"}).status_code == 422
    for _ in range(3):
        assert client.get(f"/api/v1/accounts/{portal_data.alice}/estimate", headers=alice).status_code == 200
    metrics = client.get("/metrics").text
    assert 'm2c_portal_estimates_total{source="cache"} 3.0' in metrics  # the cache hit rate's counter
    assert 'm2c_portal_requests_total{route="/api/v1/accounts/{account_no}/estimate",status="200"} 3.0' in metrics
    assert 'm2c_portal_requests_total{route="unmatched",status="413"}' in metrics
    assert 'm2c_portal_requests_total{route="/api/v1/accounts/{account_no}/bills",status="422"}' in metrics
    assert json.loads(client.get("/healthz").text) == {"status": "ok"}


def test_alerts_customers_switch_on_become_notices_once(client, portal_data):
    from datetime import datetime, time as clock
    from zoneinfo import ZoneInfo

    from billing.alerts import run_alerts
    from simulators.headend import FaultPlan, generate
    from storage.tariffs import current_tariffs
    from streams.pipeline import BatchProcessor, RawMessage

    utility, conn = portal_data.utility, portal_data.conn
    water = next(a.account_no for a in utility.accounts if "water" in a.services)
    zone = ZoneInfo(portal_data.settings.utility_zone)
    day = datetime(2026, 11, 10).date()
    # a day of water flowing without a stop, through the real pipeline: VEE flags continuous flow
    leaking = generate(utility, datetime.combine(day, clock(0), zone), datetime.combine(day, clock(0), zone).replace(
        day=11), block_hours=24, faults=FaultPlan(leak=1.0), seed=5)
    BatchProcessor(portal_data.settings, conn, cache=None).process([RawMessage(m.value) for m in leaking])
    supervisor = token(client, "supervisor")
    alice = token(client, "alice")
    assert client.put(f"/api/v1/accounts/{water}/alerts", headers=supervisor,
                      json={"leak": True}).status_code == 200
    assert client.put(f"/api/v1/accounts/{portal_data.alice}/alerts", headers=alice,
                      json={"high_usage": True, "high_usage_amount": "1.00"}).status_code == 200
    assert client.put(f"/api/v1/accounts/{portal_data.alice}/alerts", headers=alice,
                      json={"high_usage": True}).status_code == 422
    bob = token(client, "bob")
    assert client.put(f"/api/v1/accounts/{portal_data.bob}/alerts", headers=bob,
                      json={"high_usage": True, "high_usage_amount": "999999.00"}).status_code == 200
    now = datetime(2026, 11, 12, 12, tzinfo=zone)
    first = run_alerts(conn, lambda: current_tariffs(conn), now)
    assert (first.high_usage, first.leaks) == (1, sum(1 for m in utility.meters
                                                      if m.account_no == water and m.service == "water"))
    again = run_alerts(conn, lambda: current_tariffs(conn), now)
    assert (again.high_usage, again.leaks) == (0, 0)
    kinds = dict(conn.execute("select a.account_no, array_agg(n.kind) from notices n join accounts a on a.id = "
                              "n.account_id group by 1").fetchall())
    assert kinds[portal_data.alice] == ["high_usage_alert"] and "leak_alert" in kinds[water]
    assert portal_data.bob not in kinds


def test_customer_imports_a_green_button_file_of_their_own_meter(portal_data):
    from meter2cash.portal_cli import services
    from streams.topics import ensure_topics
    from tests.integration.test_kafka_worker import consume_all

    settings = portal_data.settings
    ensure_topics(settings)
    with TestClient(create_app(settings, services(settings))) as client:
        alice, bob = token(client, "alice"), token(client, "bob")
        feed = client.get(f"/api/v1/accounts/{portal_data.alice}/greenbutton", headers=alice,
                          params={"start": "2026-11-02", "end": "2026-11-04"}).content
        meters = [m for m in portal_data.utility.meters if m.account_no == portal_data.alice]
        electric = next(m for m in meters if m.service == "electric")
        url = f"/api/v1/accounts/{portal_data.alice}/greenbutton"
        upload = {"content": feed, "headers": {**alice, "Content-Type": "application/atom+xml"}}
        answer = client.post(url, params={"meter_no": electric.meter_no}, **upload)
        assert answer.status_code == 202, answer.text
        summary = answer.json()
        stored = portal_data.conn.execute(
            "select count(*) from interval_reads r join meters m on m.id = r.meter_id where m.meter_no = %s "
            "and r.local_day >= '2026-11-02' and r.local_day < '2026-11-04'", (electric.meter_no,)).fetchone()[0]
        assert summary["reads"] == stored > 0
        # the account's other meters' series are in other units: refused, each with its reason
        assert summary["rejected_by_reason"] == ({"unit_mismatch": 2 * (len(meters) - 1)} if len(meters) > 1 else {})
        assert len(consume_all(settings, settings.topic_raw, summary["blocks"], timeout=30)) == summary["blocks"]
        bob_meter = next(m.meter_no for m in portal_data.utility.meters if m.account_no == portal_data.bob)
        assert client.post(url, params={"meter_no": bob_meter}, **upload).status_code == 404
        assert client.post(url, params={"meter_no": electric.meter_no}, content=feed,
                           headers={**bob, "Content-Type": "application/atom+xml"}).status_code == 404


def test_text_postgresql_cannot_store_is_refused_not_a_server_error(client, portal_data):
    clerk = token(client, "clerk")
    assert client.get("/api/v1/staff/accounts", headers=clerk, params={"q": "ab\x00cd"}).status_code == 422
    assert client.post("/api/v1/sessions", json={"username": "ali\x00ce", "password": "x"}).status_code == 422


def test_an_estimate_of_another_deployment_or_another_period_is_never_served(client, portal_data):
    """Two databases on one Redis: each reads its own keys; a body that is not this account's open
    period and agreements is recomputed from PostgreSQL, and the answer says so."""
    from storage.cache import EstimateCache, account_key, deployment_namespace

    alice, conn = token(client, "alice"), portal_data.conn
    number = portal_data.alice
    account_id = conn.execute("select id from accounts where account_no = %s", (number,)).fetchone()[0]
    namespace = deployment_namespace(conn)
    cache = EstimateCache.from_url(portal_data.settings.redis_url, namespace)
    own = cache.read(account_id)
    assert own is not None and account_key(namespace, account_id).startswith(f"m2c:{namespace}:")
    # another deployment's estimate for the same account id sits in the same Redis: untouched, unseen
    other = EstimateCache.from_url(portal_data.settings.redis_url, "another-deployment")
    other.write([(account_id, 10**9, {**own, "bill_to_date_minor": 4651, "services": own["services"][:1]})])
    answer = client.get(f"/api/v1/accounts/{number}/estimate", headers=alice)
    assert answer.headers["x-m2c-source"] == "cache" and answer.json() == own
    # a body in this deployment's key that does not match PostgreSQL: agreements, period or account
    agreements = {s["service_agreement_id"] for s in own["services"]}
    for wrong in ({"services": own["services"][:-1] + [{**own["services"][-1], "service_agreement_id": 999_999}]},
                  {"period_id": own["period_id"] + 1000}, {"account_id": account_id + 1}):
        redis.Redis.from_url(portal_data.settings.redis_url).delete(account_key(namespace, account_id))
        cache.write([(account_id, 1, {**own, **wrong, "bill_to_date_minor": 1})])
        answer = client.get(f"/api/v1/accounts/{number}/estimate", headers=alice)
        assert answer.headers["x-m2c-source"] == "database" and answer.headers["x-m2c-cache"] == "mismatch", wrong
        assert answer.json()["bill_to_date_minor"] == own["bill_to_date_minor"]
        assert {s["service_agreement_id"] for s in answer.json()["services"]} == agreements


def test_every_error_is_a_problem_document_with_a_code(client, portal_data):
    alice = token(client, "alice")
    for answer, status, code in (
            (client.get("/api/v1/me"), 401, "unauthorized"),
            (client.get(f"/api/v1/accounts/{portal_data.bob}", headers=alice), 404, "no_such_account"),
            (client.get(f"/api/v1/accounts/{portal_data.alice}/bills/99999", headers=alice), 404, "no_such_bill"),
            (client.get("/api/v1/staff/exceptions", headers=alice), 403, "role_required"),
            (client.get(f"/api/v1/accounts/{portal_data.alice}/usage", headers=alice,
                        params={"start": "not-a-day"}), 422, "invalid_request"),
            (client.get("/api/v1/no-such-route"), 404, "not_found"),
            (client.post("/api/v1/sessions", json={"username": "alice", "password": "wrong password!"}), 401,
             "sign_in_refused")):
        body = answer.json()
        assert answer.status_code == status and answer.headers["content-type"] == "application/problem+json", body
        assert (body["status"], body["code"], body["type"]) == (status, code, f"urn:meter2cash:problem:{code}")
        assert body["title"] and body["detail"]
    invalid = client.get(f"/api/v1/accounts/{portal_data.alice}/usage", headers=alice, params={"start": "x"}).json()
    assert invalid["errors"][0]["path"] == "query.start"


def test_staff_open_accounts_and_add_premises_through_the_api(client, portal_data):
    clerk, alice = token(client, "clerk"), token(client, "alice")
    cycle = portal_data.utility.cycle_code
    assert client.post("/api/v1/staff/accounts", headers=alice,
                       json={"cycle": cycle, "name": "Eve", "why": "not staff"}).status_code == 403
    opened = client.post("/api/v1/staff/accounts", headers=clerk,
                         json={"cycle": cycle, "name": "Grace Hopper", "email": "grace@example.org",
                               "delivery": "email", "why": "new service request by phone"})
    assert opened.status_code == 201, opened.text
    number = opened.json()["account_no"]
    view = client.get(f"/api/v1/staff/accounts/{number}", headers=clerk).json()
    assert (view["customer_name"], view["email"], view["delivery_channel"]) == ("Grace Hopper", "grace@example.org",
                                                                              "email")
    refused = client.post("/api/v1/staff/accounts", headers=clerk,
                          json={"cycle": "NO-SUCH", "name": "Grace Hopper", "why": "typo in the cycle"})
    assert (refused.status_code, refused.headers["content-type"], refused.json()["code"]) == \
        (404, "application/problem+json", "unknown_cycle")
    premise = client.post("/api/v1/staff/premises", headers=clerk, json={"address": "7 Oak Ave", "why": "new build"})
    assert premise.status_code == 201 and premise.json()["zone"] == portal_data.settings.utility_zone
    bad = client.post("/api/v1/staff/premises", headers=clerk, json={"address": "7 Oak Ave", "zone": "Nowhere/At_All",
                                                                      "why": "new build"})
    assert (bad.status_code, bad.json()["code"]) == (422, "bad_zone")
    actions = [e["action"] for e in client.get("/api/v1/staff/audit", headers=token(client, "admin")).json()["entries"]]
    assert {"account.open", "premise.add"} <= set(actions)


def test_staff_install_exchange_start_and_stop_through_the_api(client, portal_data):
    clerk, supervisor = token(client, "clerk"), token(client, "supervisor")
    meter = next(m for m in portal_data.utility.meters if m.service == "electric")
    premise = client.post("/api/v1/staff/premises", headers=clerk, json={"address": "9 Birch Rd", "why": "new build"})
    premise_id = premise.json()["premise_id"]
    account = client.post("/api/v1/staff/accounts", headers=clerk, json={
        "cycle": portal_data.utility.cycle_code, "name": "Alan Turing", "why": "moving in"}).json()["account_no"]
    installed = client.post("/api/v1/staff/meters/install", headers=clerk, json={
        "meter": "API-E1", "premise_id": premise_id, "service": "electric", "unit": "Wh", "interval_s": 900,
        "at": "2026-11-01T00:00:00-05:00", "why": "new build"})
    assert installed.status_code == 201, installed.text
    start = {"account_no": account, "premise_id": premise_id, "service": "electric", "tariff": meter.tariff_code,
             "on": "2026-11-01", "why": "moving in"}
    started = client.post("/api/v1/staff/service/start", headers=clerk, json=start)
    assert started.status_code == 201, started.text
    again = client.post("/api/v1/staff/service/start", headers=clerk, json=start)
    assert (again.status_code, again.headers["content-type"], again.json()["code"]) == \
        (409, "application/problem+json", "service_point_occupied")
    exchanged = client.post("/api/v1/staff/meters/exchange", headers=clerk, json={
        "old": "API-E1", "new": "API-E2", "at": "2026-11-05T12:00:00-06:00", "why": "failed display"})
    assert exchanged.status_code == 201 and exchanged.json()["new"]["service_point_id"] == \
        installed.json()["service_point_id"]
    naive = client.post("/api/v1/staff/meters/exchange", headers=clerk, json={
        "old": "API-E2", "new": "API-E3", "at": "2026-11-06T12:00:00", "why": "no offset"})
    assert (naive.status_code, naive.json()["code"]) == (422, "bad_date")
    stop = {"account_no": account, "premise_id": premise_id, "service": "electric", "on": "2026-11-10", "why": "moved"}
    # a final read finer than the meter's resolution (whole Wh) refuses the stop
    finer = client.post("/api/v1/staff/service/stop", headers=clerk, json={**stop, "final_read": "48213.5"})
    assert (finer.status_code, finer.json()["code"]) == (422, "resolution")
    stopped = client.post("/api/v1/staff/service/stop", headers=clerk, json={**stop, "final_read": "48213"})
    assert stopped.status_code == 200 and stopped.json()["last_day"] == "2026-11-09"
    # the dial of the meter installed then, at the end of the last day served
    assert stopped.json()["final_read"] == {"meter": "API-E2", "at": "2026-11-10T06:00:00+00:00", "unit": "Wh",
                                            "value": 48213, "daily_reads": 0, "spread_quantity": 0}
    remove = {"meter": "API-E2", "at": "2026-11-10T00:00:00-06:00", "why": "vacant: meter pulled"}
    removed = client.post("/api/v1/staff/meters/remove", headers=clerk, json=remove)
    assert removed.status_code == 200 and removed.json()["service_point_id"] == installed.json()["service_point_id"]
    again = client.post("/api/v1/staff/meters/remove", headers=clerk, json=remove)
    assert (again.status_code, again.json()["code"]) == (409, "meter_not_installed")
    assert client.post("/api/v1/staff/bills/final", headers=clerk).status_code == 403
    finals = client.post("/api/v1/staff/bills/final", headers=supervisor).json()["final_bills"]
    mine = next(f for f in finals if f["account_no"] == account)
    assert mine["status"] == "waiting" and mine["reason"].startswith("missing_reads:electric:")
    actions = [e["action"] for e in client.get("/api/v1/staff/audit", headers=token(client, "admin")).json()["entries"]]
    assert {"meter.install", "meter.exchange", "meter.remove", "service.start", "service.stop",
            "bills.final"} <= set(actions)


def test_a_customer_who_moved_in_sees_only_their_own_days(client, portal_data):
    from cis import service
    from cis.accounts import NewAccount, open_account
    from portal.auth import create_user

    conn, alice = portal_data.conn, portal_data.alice
    premise, kind, tariff = conn.execute(
        "select sa.premise_id, sa.service, ta.tariff_code from service_agreements sa join accounts a on a.id = "
        "sa.account_id join tariff_assignments ta on ta.service_agreement_id = sa.id where a.account_no = %s "
        "order by sa.id limit 1", (alice,)).fetchone()
    # Alice moves out on 1 November (keyed after the reads); Newton moves in the same day
    service.stop(conn, alice, premise, kind, date(2026, 11, 1), "clerk", "moved out")
    newton = open_account(conn, NewAccount(cycle=portal_data.utility.cycle_code, name="Newton"), "clerk",
                          "moving in").account_no
    service.start(conn, service.Start(newton, premise, kind, tariff, date(2026, 11, 1)), "clerk", "moving in")
    create_user(conn, "newton", PASSWORD, "customer", [newton])
    window = {"start": "2026-10-20", "end": "2026-11-19"}
    theirs = client.get(f"/api/v1/accounts/{newton}/usage", headers=token(client, "newton"), params=window).json()
    days = {r["day"] for r in theirs["usage"] if r["service"] == kind}
    assert days and min(days) == "2026-11-01"
    hers = client.get(f"/api/v1/accounts/{alice}/usage", headers=token(client, "alice"), params=window).json()
    assert max(r["day"] for r in hers["usage"] if r["service"] == kind) == "2026-10-31"
    intervals = client.get(f"/api/v1/accounts/{newton}/usage", headers=token(client, "newton"),
                           params={"view": "interval", "start": "2026-10-30", "end": "2026-11-03"}).json()["usage"]
    # local midnight of 1 November (CDT) is 05:00 UTC: nothing of Alice's evening before
    assert intervals and all(r["start"] >= "2026-11-01T05:00:00+00:00" for r in intervals if r["service"] == kind)


def test_service_orders_through_the_api_by_role_and_only_to_their_own_customer(client, portal_data):
    clerk, supervisor = token(client, "clerk"), token(client, "supervisor")
    alice, bob = token(client, "alice"), token(client, "bob")
    premise, service = portal_data.conn.execute(
        "select sa.premise_id, sa.service from service_agreements sa join accounts a on a.id = sa.account_id "
        "where a.account_no = %s order by sa.id limit 1", (portal_data.alice,)).fetchone()
    order = {"kind": "investigate", "premise_id": premise, "service": service, "account_no": portal_data.alice,
             "why": "customer reports a buzzing meter"}
    made = client.post("/api/v1/staff/orders", headers=clerk, json=order)
    assert made.status_code == 201, made.text
    assert (made.json()["status"], made.json()["source"]) == ("open", "staff")
    again = client.post("/api/v1/staff/orders", headers=clerk, json=order)
    assert (again.status_code, again.headers["content-type"], again.json()["code"]) == \
        (409, "application/problem+json", "order_refused")
    # a disconnection is a supervisor's to order or approve
    cut = {**order, "kind": "disconnect", "why": "unsafe wiring reported"}
    assert client.post("/api/v1/staff/orders", headers=clerk, json=cut).json()["code"] == "role_required"
    cut_id = client.post("/api/v1/staff/orders", headers=supervisor, json=cut).json()["id"]
    order_id = made.json()["id"]
    listed = client.get("/api/v1/staff/orders", headers=clerk, params={"status": ["open"], "limit": 1}).json()
    assert listed["total"] == 2 and len(listed["orders"]) == 1
    assert client.post(f"/api/v1/staff/orders/{order_id}/approve", headers=clerk,
                       json={"why": "looks right"}).json()["code"] == "role_required"
    scheduled = client.post(f"/api/v1/staff/orders/{order_id}/schedule", headers=clerk,
                            json={"day": "2026-12-10", "why": "next route day"})
    assert scheduled.status_code == 200 and scheduled.json()["scheduled_for"] == "2026-12-10"
    naive = client.post(f"/api/v1/staff/orders/{order_id}/complete", headers=clerk,
                        json={"at": "2026-12-10T10:00:00", "why": "done"})
    assert (naive.status_code, naive.json()["code"]) == (422, "bad_date")
    done = client.post(f"/api/v1/staff/orders/{order_id}/complete", headers=clerk,
                       json={"at": "2026-12-10T10:00:00-06:00", "notes": "loose cover, tightened", "why": "fixed"})
    assert done.status_code == 200 and done.json()["completion"] == {"notes": "loose cover, tightened"}
    twice = client.post(f"/api/v1/staff/orders/{order_id}/complete", headers=clerk, json={"why": "again"})
    assert (twice.status_code, twice.json()["code"]) == (409, "order_refused")
    client.post(f"/api/v1/staff/orders/{cut_id}/cancel", headers=clerk, json={"why": "inspected: safe"})
    shown = client.get(f"/api/v1/staff/orders/{order_id}", headers=clerk).json()
    assert [h["status"] for h in shown["history"]] == ["open", "scheduled", "completed"]
    # the customer sees their own account's orders; another customer gets the account's 404
    mine = client.get(f"/api/v1/accounts/{portal_data.alice}/orders", headers=alice).json()
    assert {(o["kind"], o["status"]) for o in mine["orders"]} == {("investigate", "completed"),
                                                                 ("disconnect", "cancelled")}
    assert "reason" not in mine["orders"][0]
    assert client.get(f"/api/v1/accounts/{portal_data.alice}/orders", headers=bob).status_code == 404
    assert client.get("/api/v1/staff/orders", headers=alice).status_code == 403
    # a medical need certificate: supervisors only
    need = {"until": "2027-04-30", "why": "certificate received"}
    url = f"/api/v1/staff/accounts/{portal_data.alice}/medical-need"
    assert client.put(url, headers=clerk, json=need).status_code == 403
    assert client.put(url, headers=supervisor, json=need).json()["medical_need_until"] == "2027-04-30"
    actions = [e["action"] for e in client.get("/api/v1/staff/audit", headers=token(client, "admin")).json()["entries"]]
    assert {"order.create", "order.schedule", "order.complete", "order.cancel", "account.medical_need"} <= set(actions)


PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 64


def test_contacts_cases_and_a_customer_s_leak_report_through_the_api(client, portal_data):
    clerk, alice, bob = token(client, "clerk"), token(client, "alice"), token(client, "bob")
    number = portal_data.alice
    service = portal_data.conn.execute(
        "select sa.service from service_agreements sa join accounts a on a.id = sa.account_id "
        "where a.account_no = %s order by sa.id limit 1", (number,)).fetchone()[0]
    logged = client.post(f"/api/v1/staff/accounts/{number}/contacts", headers=clerk,
                         json={"channel": "phone", "reason": "billing_question", "notes": "asked about the due date"})
    assert logged.status_code == 201, logged.text
    bill = portal_data.conn.execute("select b.id from bills b join accounts a on a.id = b.account_id "
                                    "where a.account_no = %s limit 1", (number,)).fetchone()
    case = client.post("/api/v1/staff/cases", headers=clerk, json={
        "account_no": number, "kind": "high_bill", "summary": "thinks the estimate is too high", "owner": "clerk",
        "channel": "phone", "links": [{"kind": "bill", "id": bill[0]}] if bill else []})
    assert case.status_code == 201, case.text
    case_id = case.json()["id"]
    moved = client.post(f"/api/v1/staff/cases/{case_id}", headers=clerk,
                        json={"status": "waiting_customer", "why": "asked for a meter photo"})
    assert moved.json()["status"] == "waiting_customer"
    # the customer reports a leak with a photo: a case, an investigate order linked to it
    too_big = client.post(f"/api/v1/accounts/{number}/reports", headers=alice,
                          data={"kind": "leak", "service": service, "description": "water in the meter pit"},
                          files={"photo": ("pit.png", PNG + b"\x00" * (2 * 1024 * 1024), "image/png")})
    assert (too_big.status_code, too_big.json()["code"]) == (413, "photo_too_large")
    not_a_photo = client.post(f"/api/v1/accounts/{number}/reports", headers=alice,
                              data={"kind": "leak", "service": service, "description": "water in the meter pit"},
                              files={"photo": ("pit.png", b"GIF89a....", "image/png")})
    assert (not_a_photo.status_code, not_a_photo.json()["code"]) == (415, "photo_type")
    reported = client.post(f"/api/v1/accounts/{number}/reports", headers=alice,
                           data={"kind": "leak", "service": service, "description": "water in the meter pit"},
                           files={"photo": ("pit.png", PNG, "image/png")})
    assert reported.status_code == 201, reported.text
    made = reported.json()
    assert made["photo"] is True
    shown = client.get(f"/api/v1/staff/cases/{made['case_id']}", headers=clerk).json()
    assert (shown["kind"], shown["links"]) == ("leak_report", [{"kind": "order", "id": made["order_id"]}])
    order = client.get(f"/api/v1/staff/orders/{made['order_id']}", headers=clerk).json()
    assert (order["kind"], order["source"], order["account_no"]) == ("investigate", "portal", number)
    # the customer sees their own cases; another customer cannot see or report on the account
    mine = client.get(f"/api/v1/accounts/{number}/cases", headers=alice).json()
    assert {c["kind"] for c in mine["cases"]} == {"high_bill", "leak_report"}
    assert client.get(f"/api/v1/accounts/{number}/cases", headers=bob).status_code == 404
    assert client.post(f"/api/v1/accounts/{number}/reports", headers=bob,
                       data={"kind": "outage", "service": service, "description": "no power"}).status_code == 404
    closed = client.post(f"/api/v1/staff/cases/{case_id}/close", headers=clerk,
                         json={"resolution": "estimate explained: it follows the reads"})
    assert closed.json()["status"] == "closed"
    assert client.post(f"/api/v1/staff/cases/{case_id}/close", headers=clerk,
                       json={"resolution": "again"}).json()["code"] == "case_closed"
    listed = client.get("/api/v1/staff/cases", headers=clerk, params={"account_no": number}).json()
    assert listed["total"] == 1 and listed["cases"][0]["kind"] == "leak_report"
    contacts = client.get(f"/api/v1/staff/accounts/{number}/contacts", headers=clerk).json()
    assert [c["channel"] for c in contacts["contacts"]] == ["portal", "phone", "phone"]
    assert client.get("/api/v1/staff/cases", headers=alice).status_code == 403


def test_a_customer_s_payment_arrangement_is_granted_within_the_rules_or_goes_to_staff(client, portal_data):
    from tests.integration.portal_fixtures import bill_the_period

    bill_the_period(portal_data)
    alice, bob = token(client, "alice"), token(client, "bob")
    url = f"/api/v1/accounts/{portal_data.alice}/arrangements"
    balance = client.get(f"/api/v1/accounts/{portal_data.alice}", headers=alice).json()["balance_minor"]
    assert balance > 500
    least = -(-balance * 20 // 100)  # 20% of the balance, rounded up to the cent

    def ask(installments, down_minor, key):
        return client.post(url, headers=alice, json={"installments": installments, "token": "tok_approved",
                                                      "down_payment": f"{down_minor / 100:.2f}", "idempotency_key": key})
    too_long = ask(12, least, "arr-0001")
    assert too_long.status_code == 202 and too_long.json()["rule"] == "too_many_installments"
    too_little = ask(3, least - 1, "arr-0002")
    assert (too_little.json()["rule"], too_little.json()["minimum_down_minor"]) == ("down_payment_too_small", least)
    cases = client.get(f"/api/v1/accounts/{portal_data.alice}/cases", headers=alice).json()["cases"]
    assert [c["kind"] for c in cases] == ["arrangement_request", "arrangement_request"]
    declined = client.post(url, headers=alice, json={"installments": 3, "down_payment": f"{least / 100:.2f}",
                                                      "token": "tok_declined", "idempotency_key": "arr-0003"})
    assert (declined.status_code, declined.json()["code"]) == (402, "payment_declined")
    granted = ask(3, least, "arr-0004")
    assert granted.status_code == 201, granted.text
    parts = granted.json()["installments"]
    assert len(parts) == 3 and sum(p["amount_minor"] for p in parts) == balance - least
    again = ask(2, least, "arr-0005")
    assert again.status_code == 202 and again.json()["rule"] == "arrangement_exists"
    assert client.post(url, headers=bob, json={"installments": 2, "down_payment": "10.00", "token": "tok_approved",
                                               "idempotency_key": "arr-0006"}).status_code == 404


def test_a_customer_turns_autopay_on_and_off_and_changes_preferences(client, portal_data):
    alice, bob = token(client, "alice"), token(client, "bob")
    url = f"/api/v1/accounts/{portal_data.alice}"
    assert client.put(f"{url}/autopay", headers=alice, json={"token": "tok_approved"}).json()["autopay"] is True
    assert client.put(f"{url}/autopay", headers=bob, json={"token": "tok_approved"}).status_code == 404
    status = client.get(f"{url}/autopay", headers=alice).json()
    assert status["autopay"] is True and status["enrolled_at"] and status["attempts"] == []
    assert client.get(f"{url}/autopay", headers=bob).status_code == 404
    assert client.put(f"{url}/autopay", headers=alice, json={"token": None}).json()["autopay"] is False
    assert client.get(f"{url}/autopay", headers=alice).json()["autopay"] is False
    refused = client.put(f"{url}/preferences", headers=alice, json={"notices_off": ["final_notice"]})
    assert (refused.status_code, refused.json()["code"]) == (422, "bad_preference")
    changed = client.put(f"{url}/preferences", headers=alice, json={"notices_off": ["high_usage_alert"]}).json()
    assert changed["notices_off"] == ["high_usage_alert"] and list(changed["changed"]) == ["notices_off"]
    assert client.get(f"{url}/preferences", headers=bob).status_code == 404
    kinds = [r[0] for r in portal_data.conn.execute(
        "select kind from cis_events where subject = %s order by id", (portal_data.alice,))]
    assert kinds[-3:] == ["autopay_enrolled", "autopay_ended", "preferences_changed"]


def test_a_customer_s_start_request_waits_for_staff_who_carry_it_out(client, portal_data):
    from datetime import date, timedelta

    alice, bob, clerk = token(client, "alice"), token(client, "bob"), token(client, "clerk")
    on = (date.today() + timedelta(days=5)).isoformat()
    ask = {"action": "start", "service": "electric", "on": on, "to_address": "8 Pier St"}
    url = f"/api/v1/accounts/{portal_data.alice}/service-requests"
    assert client.post(url, headers=bob, json=ask).status_code == 404
    no_address = client.post(url, headers=alice, json={**ask, "to_address": None})
    assert (no_address.status_code, no_address.json()["code"]) == (409, "request_refused")
    made = client.post(url, headers=alice, json=ask)
    assert made.status_code == 201 and made.json()["status"] == "waiting for staff"
    case_id = made.json()["case_id"]
    assert client.post(f"/api/v1/staff/cases/{case_id}/confirm", headers=alice, json={"why": "ok"}).status_code == 403
    shown = client.get(f"/api/v1/staff/cases/{case_id}", headers=clerk).json()
    assert shown["request"]["action"] == "start" and shown["request"]["to_address"] == "8 Pier St"
    done = client.post(f"/api/v1/staff/cases/{case_id}/confirm", headers=clerk, json={"why": "confirmed by phone"})
    assert done.status_code == 200 and done.json()["done"]["agreement_id"]
    assert done.json()["done"]["deposit"]["status"] == "none"  # twice an average bill: the new premise has none
    again = client.post(f"/api/v1/staff/cases/{case_id}/confirm", headers=clerk, json={"why": "again"})
    assert (again.status_code, again.json()["code"]) == (409, "request_refused")


def test_staff_find_an_account_by_address_read_its_timeline_and_change_what_it_owes(client, portal_data):
    from datetime import date, timedelta

    clerk, supervisor, alice = token(client, "clerk"), token(client, "supervisor"), token(client, "alice")
    conn = portal_data.conn
    address = conn.execute("select p.address from premises p join service_agreements sa on sa.premise_id = p.id "
                           "join accounts a on a.id = sa.account_id where a.account_no = %s limit 1",
                           (portal_data.alice,)).fetchone()[0]
    found = client.get("/api/v1/staff/accounts", headers=clerk, params={"q": address}).json()
    assert found["total"] >= 1 and portal_data.alice in [a["account_no"] for a in found["accounts"]]
    assert address in next(a for a in found["accounts"] if a["account_no"] == portal_data.alice)["addresses"]
    every = client.get("/api/v1/staff/accounts", headers=clerk, params={"q": "A000", "limit": 2}).json()
    later = client.get("/api/v1/staff/accounts", headers=clerk, params={"q": "A000", "limit": 2, "offset": 2}).json()
    assert every["total"] == len(portal_data.utility.accounts) == later["total"] and len(every["accounts"]) == 2
    assert not {a["account_no"] for a in every["accounts"]} & {a["account_no"] for a in later["accounts"]}
    assert client.get("/api/v1/staff/accounts", headers=alice, params={"q": "A000"}).status_code == 403

    url = f"/api/v1/staff/accounts/{portal_data.alice}"
    client.post(f"{url}/contacts", headers=clerk, json={"channel": "phone", "reason": "billing_question",
                                                         "notes": "asks about the estimate"})
    # a clerk adjusts up to 100.00 either way; more needs a supervisor
    small = client.post(f"{url}/adjustments", headers=clerk, json={"amount": "-12.50", "why": "goodwill credit"})
    assert small.status_code == 201 and small.json()["amount_minor"] == -1250
    big = client.post(f"{url}/adjustments", headers=clerk, json={"amount": "250.00", "why": "meter damage"})
    assert (big.status_code, big.json()["code"]) == (403, "role_required")
    assert client.post(f"{url}/adjustments", headers=supervisor,
                       json={"amount": "250.00", "why": "meter damage"}).status_code == 201
    bad = client.post(f"{url}/adjustments", headers=clerk, json={"amount": "12.505", "why": "too exact"})
    assert bad.status_code == 422
    assert client.post(f"{url}/adjustments", headers=clerk, json={"amount": "ten", "why": "x y z"}).json()["code"] \
        == "bad_amount"
    made = client.post(f"{url}/arrangements", headers=clerk, json={
        "installments": 3, "first_due": (date.today() + timedelta(days=10)).isoformat(), "why": "hardship"})
    assert made.status_code == 201 and made.json()["arrangement_id"]
    # the timeline: newest first, every kind, filtered by kind, paginated with the total
    line = client.get(f"{url}/timeline", headers=clerk).json()
    kinds = {e["kind"] for e in line["events"]}
    assert {"ledger", "contact", "notice"} <= kinds and line["total"] >= len(line["events"])
    assert [e["at"] for e in line["events"]] == sorted((e["at"] for e in line["events"]), reverse=True)
    ledger = client.get(f"{url}/timeline", headers=clerk, params={"kind": "ledger"}).json()
    assert sorted(e["amount_minor"] for e in ledger["events"]) == [-1250, 25000]
    assert all(e["who"] in ("clerk", "supervisor") for e in ledger["events"])
    first = client.get(f"{url}/timeline", headers=clerk, params={"limit": 2}).json()["events"]
    assert first == line["events"][:2]
    assert client.get(f"{url}/timeline", headers=clerk, params={"kind": "nonsense"}).status_code == 422
    assert client.get(f"{url}/timeline", headers=alice).status_code == 403
    audit = [r[0] for r in conn.execute("select action from portal_audit where target = %s order by id",
                                        (portal_data.alice,))]
    assert audit.count("account.adjust") == 2 and "account.arrangement" in audit


def test_the_exception_queue_pages_sorts_shows_like_days_and_acts_on_a_filtered_set(client, portal_data):
    from datetime import timedelta
    from zoneinfo import ZoneInfo

    clerk, supervisor = token(client, "clerk"), token(client, "supervisor")
    conn = portal_data.conn
    url = "/api/v1/staff/exceptions"
    everything = client.get(url, headers=clerk, params={"limit": 500}).json()
    total = everything["total"]
    assert total == len(everything["exceptions"]) > 3
    page = client.get(url, headers=clerk, params={"limit": 2, "offset": 2}).json()
    assert page["total"] == total and [e["id"] for e in page["exceptions"]] == \
        [e["id"] for e in everything["exceptions"][2:4]]
    newest = client.get(url, headers=clerk, params={"sort": "newest", "limit": 500}).json()["exceptions"]
    assert [e["id"] for e in newest] == sorted((e["id"] for e in newest), reverse=True)
    by_severity = [e["severity"] for e in client.get(url, headers=clerk, params={"sort": "severity",
                                                                                  "limit": 500}).json()["exceptions"]]
    order = {"blocks_billing": 0, "issue": 1, "information": 2}
    assert by_severity == sorted(by_severity, key=order.get)
    conn.execute("update vee_exceptions set created_at = now() - interval '10 days' where id = %s",
                 (everything["exceptions"][0]["id"],))
    aged = client.get(url, headers=clerk, params={"older_than_days": 7}).json()
    assert aged["total"] == 1 and aged["exceptions"][0]["id"] == everything["exceptions"][0]["id"]

    # evidence: each slot against the mean of the same slot on the same weekday of the weeks before
    zone = ZoneInfo(portal_data.settings.utility_zone)
    first_day = conn.execute("select min(local_day) from interval_blocks").fetchone()[0]
    later = next(e for e in everything["exceptions"]
                 if datetime.fromisoformat(e["block_start"]).astimezone(zone).date() >= first_day + timedelta(days=7)
                 and e["meter_no"])
    shown = client.get(f"{url}/{later['id']}", headers=clerk).json()["evidence"]
    assert shown["like_days"] and len(shown["slots"]) == len(client.get(f"{url}/{later['id']}",
                                                                          headers=clerk).json()["values"])
    slot = next(s for s in shown["slots"] if s["like_day_mean"] is not None)
    moment = datetime.fromisoformat(slot["start"])
    expected = conn.execute(
        "select avg(r.value) from interval_reads r join meters m on m.id = r.meter_id where m.meter_no = %s "
        "and r.channel = 1 and r.interval_start = any(%s)",
        (later["meter_no"], [datetime.combine(d, moment.timetz().replace(tzinfo=None), zone)
                             for d in (date.fromisoformat(x) for x in shown["like_days"])])).fetchone()[0]
    assert slot["like_day_mean"] == round(float(expected), 1)

    # bulk: first what it would change, then the change; release needs a supervisor
    rule = everything["exceptions"][0]["rules"][0]
    matching = client.get(url, headers=clerk, params={"rule": rule, "limit": 500}).json()["total"]
    preview = client.post(f"{url}/bulk", headers=clerk, json={"action": "accept", "why": "checked: real use",
                                                              "rule": rule}).json()
    assert preview["applied"] is False and preview["matching"] == matching
    assert preview["will"].startswith(f"accept {matching:,} exceptions")
    assert client.get(url, headers=clerk, params={"rule": rule}).json()["total"] == matching  # nothing moved yet
    refused = client.post(f"{url}/bulk", headers=clerk, json={"action": "release", "why": "x y z", "rule": rule,
                                                              "apply": True})
    assert (refused.status_code, refused.json()["code"]) == (403, "role_required")
    done = client.post(f"{url}/bulk", headers=clerk, json={"action": "accept", "why": "checked: real use",
                                                           "rule": rule, "apply": True}).json()
    assert done["applied"] and done["moved"] == matching
    assert client.get(url, headers=clerk, params={"rule": rule}).json()["total"] == 0
    reopened = client.post(f"{url}/bulk", headers=supervisor, json={"action": "reopen", "why": "second look",
                                                                    "rule": rule, "status": "accepted", "apply": True})
    assert reopened.json()["moved"] == matching


def test_staff_upload_a_lockbox_file_match_by_invoice_reverse_a_returned_payment_and_refund_a_credit(
        client, portal_data):
    clerk, supervisor = token(client, "clerk"), token(client, "supervisor")
    bill_the_period(portal_data)
    conn = portal_data.conn
    bill_id = conn.execute("select b.id from bills b join accounts a on a.id = b.account_id where a.account_no = %s",
                           (portal_data.bob,)).fetchone()[0]
    text = ("reference,received_on,account_no,invoice_no,amount,method\n"
            f"LBX-1,2026-10-05,{portal_data.alice},,20.00,check\n"
            "LBX-2,2026-10-05,NOSUCH,,7.00,check\n"
            "LBX-3,2026-10-05,,,not money,check\n")
    files = {"file": ("lockbox-oct.csv", text.encode(), "text/csv")}
    first = client.post("/api/v1/staff/lockbox", headers=clerk, files=files)
    assert first.status_code == 201
    summary = first.json()
    assert (summary["lines"], summary["applied"], summary["unmatched"], summary["applied_minor"]) == (2, 1, 1, 2000)
    assert [e["line"] for e in summary["errors"]] == [4]
    again = client.post("/api/v1/staff/lockbox", headers=clerk, files=files).json()
    assert (again["applied"], again["duplicates"]) == (0, 2)  # nothing applied twice
    queue = client.get("/api/v1/staff/payments/exceptions", headers=clerk).json()
    queued = queue["payments"]
    assert queue["total"] == len(queued) >= 1
    paged = client.get("/api/v1/staff/payments/exceptions", headers=clerk, params={"limit": 1, "offset": 0}).json()
    assert paged["total"] == queue["total"] and len(paged["payments"]) == 1
    unmatched = next(p for p in queued if p["reference"] == "LBX-2")
    both = client.post(f"/api/v1/staff/payments/{unmatched['id']}/match", headers=clerk,
                       json={"account_no": portal_data.bob, "invoice_no": bill_id, "why": "x y z"})
    assert (both.status_code, both.json()["code"]) == (422, "account_or_invoice")
    matched = client.post(f"/api/v1/staff/payments/{unmatched['id']}/match", headers=clerk,
                          json={"invoice_no": bill_id, "why": "the stub's bill number"})
    assert matched.status_code == 200 and matched.json()["account_no"] == portal_data.bob
    # a returned payment: a supervisor's, with the entity's fee; the customer is told
    applied = conn.execute("select id from payments where reference = 'LBX-1'").fetchone()[0]
    assert client.post(f"/api/v1/staff/payments/{applied}/return", headers=clerk,
                       json={"why": "NSF"}).status_code == 403
    returned = client.post(f"/api/v1/staff/payments/{applied}/return", headers=supervisor, json={"why": "NSF"})
    assert returned.status_code == 200 and returned.json()["fee_minor"] == 2500
    assert client.get(f"/api/v1/staff/payments/{applied}", headers=clerk).json()["status"] == "returned"
    # a refund is of a credit only
    url = f"/api/v1/staff/accounts/{portal_data.alice}"
    too_much = client.post(f"{url}/refunds", headers=supervisor, json={"amount": "5.00", "why": "no credit"})
    assert too_much.status_code == 409 and too_much.json()["code"] == "more_than_credit"
    balance = client.post(f"{url}/adjustments", headers=supervisor,
                          json={"amount": "-1000.00", "why": "settlement"}).json()["balance_minor"]
    assert balance < 0
    refunded = client.post(f"{url}/refunds", headers=supervisor, json={"amount": "5.00", "why": "customer asked"})
    assert refunded.status_code == 201 and refunded.json()["balance_minor"] == balance + 500
    assert client.post(f"{url}/refunds", headers=clerk, json={"amount": "1.00", "why": "x y z"}).status_code == 403


def test_staff_release_a_held_account_and_rebill_a_bill_seeing_what_changed_line_by_line(client, portal_data):
    clerk, supervisor = token(client, "clerk"), token(client, "supervisor")
    conn = portal_data.conn
    client.post("/api/v1/staff/bill-runs", headers=supervisor, json={"cycle": portal_data.utility.cycle_code})
    for thread in client.app.state.bill_runs.threads:
        thread.join(120)
    listed = client.get("/api/v1/staff/bill-runs", headers=clerk).json()
    assert listed["total"] == len(listed["bill_runs"]) >= 1
    assert client.get("/api/v1/staff/bill-runs", headers=clerk, params={"offset": listed["total"]}).json()[
        "bill_runs"] == []
    run = listed["bill_runs"][0]
    progress = client.get(f"/api/v1/staff/bill-runs/{run['id']}", headers=clerk).json()
    held = next(h for h in progress["held"] if h["reason"].startswith("blocking_exceptions"))
    url = f"/api/v1/staff/bill-runs/{run['id']}/accounts/{held['account_no']}/release"
    assert client.post(url, headers=clerk, json={"why": "checked"}).status_code == 403
    released = client.post(url, headers=supervisor, json={"why": "checked the reads with the customer"}).json()
    assert released["released_exceptions"] > 0
    assert released["bill_id"] is not None and not released["still_held"]
    assert client.get(f"/api/v1/staff/bills/{released['bill_id']}", headers=clerk).json()["account_no"] == \
        held["account_no"]
    # a read of a billed account changes: the rebill says what changed, line by line
    billed = conn.execute(
        "select b.id, e.id, e.values from bills b join accounts a on a.id = b.account_id "
        "join service_agreements sa on sa.account_id = a.id join agreement_meters am on am.service_agreement_id = sa.id "
        "join vee_exceptions e on e.meter_id = am.meter_id and e.status = 'open' "
        "where b.status = 'issued' and e.values[1] is not null order by b.id limit 1").fetchone()
    assert billed is not None  # the seeded utility has open (non-blocking) exceptions at billed accounts
    bill_id, exception_id, values = billed
    before = client.get(f"/api/v1/staff/bills/{bill_id}", headers=clerk).json()
    client.post(f"/api/v1/staff/exceptions/{exception_id}/override", headers=supervisor,
                json={"why": "the customer read the meter", "values": {"0": values[0] + 500_000}})
    assert client.post(f"/api/v1/staff/bills/{bill_id}/rebill", headers=clerk, json={"why": "x y z"}).status_code == 403
    done = client.post(f"/api/v1/staff/bills/{bill_id}/rebill", headers=supervisor,
                       json={"why": "the read was corrected"}).json()
    after = client.get(f"/api/v1/staff/bills/{done['rebill_id']}", headers=clerk).json()
    assert after["rebill_of"] == bill_id and client.get(f"/api/v1/staff/bills/{bill_id}",
                                                        headers=clerk).json()["status"] == "cancelled"
    assert sum(d["change_minor"] for d in done["differences"]) == after["total_minor"] - before["total_minor"]
    assert any(d["change_minor"] > 0 and d["quantity_after"] != d["quantity_before"] for d in done["differences"])
    again = client.post(f"/api/v1/staff/bills/{bill_id}/cancel", headers=supervisor, json={"why": "twice"})
    assert (again.status_code, again.json()["code"]) == (409, "not_issued")


def test_the_tariff_workspace_lists_shows_converts_previews_the_impact_and_publishes_with_why(client, portal_data):
    from pathlib import Path as FilePath

    from rating.tariff import parse_tariff

    clerk, supervisor = token(client, "clerk"), token(client, "supervisor")
    listed = client.get("/api/v1/staff/tariffs", headers=clerk).json()
    assert listed["total"] == len(listed["tariffs"]) >= 3
    electric = next(t for t in listed["tariffs"] if t["code"] == "E-RES")
    assert electric["versions"] and electric["service"] == "electric"
    shown = client.get("/api/v1/staff/tariffs/E-RES", headers=clerk).json()
    assert parse_tariff(shown["document"]).code == "E-RES" and shown["versions"][0]["charges"]
    assert client.get("/api/v1/staff/tariffs/NOPE", headers=clerk).json()["code"] == "no_such_tariff"
    tou = client.get("/api/v1/staff/tariffs/E-TOU", headers=clerk).json()
    grid = next(v["tou"] for v in tou["versions"] if v["tou"])
    assert len(grid["weekday"]) == 12 and all(len(row) == 24 for row in grid["weekday"] + grid["weekend"])
    # a URDB file converts into a draft that parses
    urdb = FilePath(__file__).parents[1] / "unit" / "data" / "urdb_tou.json"
    converted = client.post("/api/v1/staff/tariffs/convert", headers=clerk,
                            files={"file": ("urdb_tou.json", urdb.read_bytes(), "application/json")}).json()
    assert converted["format"] == "urdb" and parse_tariff(converted["document"]).versions
    bad = client.post("/api/v1/staff/tariffs/convert", headers=clerk,
                      files={"file": ("x.json", b'{"items": [{"name": 1}]}', "application/json")})
    assert bad.status_code == 422 and bad.json()["code"] == "tariff_invalid"
    # the impact of raising the customer charge by 3.00 on every stored bill of the period
    proposed = shown["document"].replace('amount = "12.50"', 'amount = "15.50"')
    assert proposed != shown["document"]
    period = portal_data.utility.period_start, portal_data.utility.period_end
    impact = client.post("/api/v1/staff/tariffs/impact", headers=clerk, json={
        "document": proposed, "period_start": period[0].isoformat(), "period_end": period[1].isoformat()}).json()
    electric_agreements = sum(1 for m in portal_data.utility.meters if m.tariff_code == "E-RES")
    assert impact["agreements"] == electric_agreements
    assert impact["revenue_difference_minor"] == 300 * electric_agreements
    assert sum(b["bills"] for b in impact["histogram"]) == electric_agreements  # every bill in one bar or another
    assert all(c["difference_minor"] == 300 for c in impact["largest"])
    # publish: a supervisor, with why; the effective date is checked against the document
    newest = parse_tariff(proposed).versions[-1].effective_from
    wrong = client.post("/api/v1/staff/tariffs/publish", headers=supervisor, json={
        "document": proposed, "why": "rate case", "effective_from": "2030-01-01"})
    assert wrong.status_code == 422 and wrong.json()["code"] == "effective_date_mismatch"
    done = client.post("/api/v1/staff/tariffs/publish", headers=supervisor, json={
        "document": proposed, "why": "rate case 2026-14", "effective_from": newest.isoformat()})
    assert done.status_code == 201
    history = client.get("/api/v1/staff/tariffs/E-RES", headers=clerk).json()["revisions"]
    assert (history[0]["revision"], history[0]["by"], history[0]["why"]) == (done.json()["revision"], "supervisor",
                                                                             "rate case 2026-14")
