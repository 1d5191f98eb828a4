"""A customer's own request to stop service, move it to another address, or start it at another
address as well (a second home, a rental): a ``move_request`` case holding the request, carried out
when staff confirm it (``confirm``) — or at once where the billing entity allows self-service stops
and moves (a start at once also needs the tariff: the account's own for that service; without one,
staff choose it). Carried out, it is the lifecycle's own stop, transfer or start (``cis.service``),
recorded with who asked and who confirmed, and the case closes telling the customer. A start's
deposit is the caller's to charge (``on_start``: the billing side, which this package does not
reach)."""
from __future__ import annotations

from datetime import date
from typing import Callable

import psycopg

from cis import cases, service
from cis.errors import BadDate, CisError, NoAgreement
from cis.premises import add_premise
from storage import cases as stored


class RequestRefused(CisError):
    code = "request_refused"
    status = 409


OnStart = Callable[[str, int, str], dict]  # (account number, agreement id, service) -> the deposit charged


def ask(conn: psycopg.Connection, account_no: str, action: str, service_kind: str, on: date, actor: str, *,
        today: date, to_address: str | None = None, zone: str | None = None, at_once: bool = False,
        on_start: OnStart | None = None) -> dict:
    """Record a stop, move or start request (``on``: the first day no longer served at the old address,
    and the first served at the new one); with ``at_once`` carry it out now. Returns the case and what
    was done."""
    if action not in ("stop", "move", "start"):
        raise RequestRefused(f"a request is to stop, to move or to start, not {action!r}")
    if on < today:
        raise BadDate(f"a request takes effect today or later, not {on}")
    address = " ".join((to_address or "").split()) or None
    if action in ("move", "start") and address is None:
        raise RequestRefused(f"a {action} needs the new address")
    current = stored.serving(conn, account_no, service_kind)
    if current is None and action != "start":
        raise NoAgreement(f"account {account_no} has no {service_kind} service running")
    request = {"action": action, "service": service_kind, "on": on.isoformat(),
               "premise_id": current[0] if current else None, "from_address": current[1] if current else None,
               "to_address": address, "zone": zone}
    if action == "start":
        request["tariff"] = stored.account_tariff(conn, account_no, service_kind)
    summary = {"stop": f"stop {service_kind} at {request['from_address']} from {on}",
               "move": f"move {service_kind} from {request['from_address']} to {address} on {on}",
               "start": f"start {service_kind} at {address} on {on}"}[action]
    with conn.transaction():
        case = cases.open_case(conn, account_no, "move_request", summary, actor, today=today, channel="portal")
        stored.set_request(conn, case.id, request)
        done = None
        if at_once and (action != "start" or request["tariff"]):
            done = confirm(conn, case.id, actor, "carried out at once: the billing entity allows it",
                           on_start=on_start)
    return {"case_id": case.id, "request": request, "done": done}


def confirm(conn: psycopg.Connection, case_id: int, actor: str, reason: str, tariff: str | None = None,
            on_start: OnStart | None = None) -> dict:
    """Carry out the request on the case (staff confirm it) and close the case with what was done;
    ``tariff``: another tariff for the new agreement (a start without one on the account needs it)."""
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
        elif request["action"] == "start":
            done, said = _start(conn, case, request, on, actor, f"{reason} (case {case_id})", tariff, on_start)
        else:
            to_premise = _premise(conn, request, actor, f"new address of a move (case {case_id})")
            stopped, started = service.transfer(conn, case.account_no, request["premise_id"], to_premise,
                                                request["service"], on, actor, f"{reason} (case {case_id})", tariff)
            done = {"stopped_agreement_id": stopped.agreement_id, "agreement_id": started.agreement_id,
                    "to_premise_id": to_premise, "connect_order_id": started.connect_order_id}
            said = (f"service moved: served at {request['to_address']} from {on}, your last day at "
                    f"{request['from_address']} is {stopped.last_day}")
        stored.record_event(conn, case_id, "confirmed", done, actor, reason)
        cases.close_case(conn, case_id, said, actor)
    return done


def _start(conn: psycopg.Connection, case, request: dict, on: date, actor: str, reason: str, tariff: str | None,
           on_start: OnStart | None) -> tuple[dict, str]:
    code = tariff or request.get("tariff")
    if not code:
        raise RequestRefused(f"the account has had no {request['service']} service: name the tariff to start on")
    premise_id = _premise(conn, request, actor, f"address of a service start (case {case.id})")
    started = service.start(conn, service.Start(case.account_no, premise_id, request["service"], code, on), actor,
                            reason)
    done = {"agreement_id": started.agreement_id, "premise_id": premise_id, "tariff": code,
            "connect_order_id": started.connect_order_id}
    if on_start is not None:
        done["deposit"] = on_start(case.account_no, started.agreement_id, request["service"])
    return done, f"service started: served at {request['to_address']} from {on}"


def _premise(conn: psycopg.Connection, request: dict, actor: str, reason: str) -> int:
    """The premise at the request's new address, added when there is none."""
    zone = request["zone"] or (_zone_of(conn, request["premise_id"]) if request["premise_id"] else None)
    return stored.premise_at(conn, request["to_address"]) or add_premise(conn, request["to_address"], zone, actor,
                                                                         reason)


def _zone_of(conn: psycopg.Connection, premise_id: int) -> str:
    from storage.installations import premise

    return premise(conn, premise_id)[2]
