"""Schemathesis generates requests from the portal's OpenAPI document and sends them to the app on
the real PostgreSQL and Redis, as a customer and as an admin: no answer may be a server error."""
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings as hypothesis_settings

from portal.app import create_app
from portal.auth import login
from schemathesis.core import NOT_SET
from tests.integration.portal_fixtures import PASSWORD

pytestmark = pytest.mark.integration
EXAMPLES = 12


def test_generated_requests_get_no_server_error(portal_data):
    from meter2cash.portal_cli import services
    from streams.topics import ensure_topics

    ensure_topics(portal_data.settings)
    app = create_app(portal_data.settings, services(portal_data.settings))  # as `m2c portal serve` builds it
    with TestClient(app) as client:
        tokens = {user: client.post("/api/v1/sessions", json={"username": user, "password": PASSWORD}).json()["token"]
                  for user in ("alice", "admin")}
        schema = schemathesis.openapi.from_asgi("/api/openapi.json", app)
        operations = [result.ok() for result in schema.get_all_operations()]
        assert len(operations) >= 25
        called = 0

        for operation in operations:
            @given(case=operation.as_strategy())
            @hypothesis_settings(max_examples=EXAMPLES, deadline=None, database=None,
                                 suppress_health_check=list(HealthCheck))
            def check(case):
                nonlocal called
                if "account_no" in (case.path_parameters or {}):
                    case.path_parameters["account_no"] = portal_data.alice  # an account that exists
                for user in ("alice", "admin"):
                    body = {} if case.body is NOT_SET or case.body is None else {"json": case.body}
                    response = client.request(case.method, case.formatted_path, params=case.query,
                                              headers={**(case.headers or {}),
                                                       "Authorization": f"Bearer {tokens[user]}"}, **body)
                    called += 1
                    assert response.status_code < 500, (user, case.method, case.formatted_path, response.text[:300])
                    if case.path == "/api/v1/sessions/current" and response.status_code == 204:
                        # signed out: a new session, made directly - the generated sign-ins with wrong
                        # passwords have made this client's address wait (throttling), as they should
                        tokens[user] = login(portal_data.conn, user, PASSWORD, address="fuzz-sign-in-again").token
            check()
        assert called >= len(operations) * 2
