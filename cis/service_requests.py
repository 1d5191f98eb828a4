"""A customer's own request to stop service or move it to another address: a ``move_request`` case
holding the request, carried out when staff confirm it (``confirm``) — or at once where the billing
entity allows self-service stops and moves. Carried out, it is the lifecycle's own stop or transfer
(``cis.service``), recorded with who asked and who confirmed, and the case closes telling the
customer."""
from __future__ import annotations

from datetime import date

import psycopg

from cis import cases, service
from cis.errors import BadDate, CisError, NoAgreement
from cis.premises import add_premise
from storage import cases as stored


class RequestRefused(CisError):
    code = "request_refused"
    status = 409


def ask(conn: psycopg.Connection, account_no: str, action: str, service_kind: str, on: date, actor: str, *,
        today: date, to_address: str | None = None, zone: str | None = None, at_once: bool = False) -> dict:
    """Record a stop or move request (``on``: the first day no longer served at the old address, and the
    first served at the new one); with ``at_once`` carry it out now. Returns the case and what was done."""
    if action not in ("stop", "move"):
        raise RequestRefused(f"a request is to stop or to move, not {action!r}")
    if on < today:
        raise BadDate(f"a request takes effect today or later, not {on}")
    current = stored.serving(conn, account_no, service_kind)
    if current is None:
        raise NoAgreement(f"account {account_no} has no {service_kind} service running")
    if action == "move" and not " ".join((to_address or "").split()):
        raise RequestRefused("a move needs the new address")
    request = {"action": action, "service": service_kind, "on": on.isoformat(), "premise_id": current[0],
               "from_address": current[1], "to_address": " ".join((to_address or "").split()) or None,
               "zone": zone}
    summary = (f"stop {service_kind} at {current[1]} from {on}" if action == "stop"
               else f"move {service_kind} from {current[1]} to {request['to_address']} on {on}")
    with conn.transaction():
        case = cases.open_case(conn, account_no, "move_request", summary, actor, today=today, channel="portal")
        stored.set_request(conn, case.id, request)
        done = confirm(conn, case.id, actor, "carried out at once: the billing entity allows it") if at_once else None
    return {"case_id": case.id, "request": request, "done": done}


def confirm(conn: psycopg.Connection, case_id: int, actor: str, reason: str, tariff: str | None = None) -> dict:
    """Carry out the request on the case (staff confirm it) and close the case with what was done."""
    request = stored.request_of(conn, case_id)
    case = cases.get(conn, case_id)
    if not request:
        raise RequestRefused(f"case {case_id} holds no stop or move request")
    if case.status == "closed":
        raise RequestRefused(f"case {case_id} is closed")
    on = date.fromisoformat(request["on"])
    with conn.transaction():
        if request["action"] == "stop":
            stopped = service.stop(conn, case.account_no, request["premise_id"], request["service"], on, actor,
                                   f"{reason} (case {case_id})")
            done = {"stopped_agreement_id": stopped.agreement_id, "last_day": stopped.last_day.isoformat()}
            said = f"service stopped: your last day served is {stopped.last_day}; the final bill follows"
        else:
            to_premise = stored.premise_at(conn, request["to_address"]) or add_premise(
                conn, request["to_address"], request["zone"] or _zone_of(conn, request["premise_id"]), actor,
                f"new address of a move (case {case_id})")
            stopped, started = service.transfer(conn, case.account_no, request["premise_id"], to_premise,
                                                request["service"], on, actor, f"{reason} (case {case_id})", tariff)
            done = {"stopped_agreement_id": stopped.agreement_id, "agreement_id": started.agreement_id,
                    "to_premise_id": to_premise, "connect_order_id": started.connect_order_id}
            said = (f"service moved: served at {request['to_address']} from {on}, your last day at "
                    f"{request['from_address']} is {stopped.last_day}")
        stored.record_event(conn, case_id, "confirmed", done, actor, reason)
        cases.close_case(conn, case_id, said, actor)
    return done


def _zone_of(conn: psycopg.Connection, premise_id: int) -> str:
    from storage.installations import premise

    return premise(conn, premise_id)[2]
