"""Start, stop and transfer service: agreements between an account and a premise's service point for
days [first day served, first day no longer served).

One agreement serves a service point on a day. Usage is the service point's on the agreement's days
(``agreement_usage_daily``), so a stop backdated a week, or a start recorded after the reads, needs
nothing moved: the bills read the days as they now are (an issued bill whose days changed is raised
as a bill correction)."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import psycopg

from cis.errors import BadDate, BadService, NoAgreement, PointOccupied, UnknownAccount, UnknownPremise, UnknownTariff
from cis.meters import SERVICES
from config.errors import require_who_and_why
from storage import installations as stored
from storage.customers import record_event


@dataclass(frozen=True)
class Start:
    account_no: str
    premise_id: int
    service: str
    tariff: str
    on: date  # first day served
    attributes: dict = field(default_factory=dict)  # rate attributes: meter size, household size, ...


@dataclass(frozen=True)
class Started:
    agreement_id: int
    service_point_id: int
    status: str
    connect_needed: bool  # the service point is disconnected: a connect order is made
    connect_order_id: int | None = None


@dataclass(frozen=True)
class Stopped:
    agreement_id: int
    service_point_id: int
    last_day: date  # last day served


def occupant(agreements: list[tuple], first: date, end: date | None) -> tuple | None:
    """The agreement of ``agreements`` (id, account, start, end, status) that serves a day of
    [first, end) (end None: open), if any."""
    for agreement in agreements:
        _, _, start, stop, _ = agreement
        if (end is None or start < end) and (stop is None or stop > first):
            return agreement
    return None


def start(conn: psycopg.Connection, request: Start, actor: str, reason: str, today: date | None = None) -> Started:
    require_who_and_why(actor, reason, "starting service needs who and why")
    if request.service not in SERVICES:
        raise BadService(f"a service is one of {SERVICES}, not {request.service!r}")
    with conn.transaction():
        started = _start(conn, request, actor, today or date.today())
        record_event(conn, "service_started", request.account_no,
                     {"agreement_id": started.agreement_id, "premise_id": request.premise_id,
                      "service": request.service, "tariff": request.tariff, "on": request.on.isoformat(),
                      "attributes": request.attributes}, actor, reason)
    return started


def _start(conn: psycopg.Connection, request: Start, actor: str, today: date) -> Started:
    account = stored.account(conn, request.account_no)
    if account is None:
        raise UnknownAccount(f"no account {request.account_no}")
    stored.lock_account(conn, account[0])
    if stored.premise(conn, request.premise_id) is None:
        raise UnknownPremise(f"no premise {request.premise_id} (see m2c premises add)")
    service = stored.tariff_service(conn, request.tariff)
    if service is None:
        raise UnknownTariff(f"no published tariff {request.tariff!r} (see m2c tariff list)")
    if service != request.service:
        raise UnknownTariff(f"tariff {request.tariff} is a {service} tariff, not {request.service}")
    point_id = stored.service_point(conn, request.premise_id, request.service, make=True)
    held = occupant(stored.agreements_at_point(conn, point_id), request.on, None)
    if held is not None:
        raise PointOccupied(
            f"account {held[1]} is served at service point {point_id} from {held[2]}"
            + (f" to {held[3]}" if held[3] else "") + ": stop that service first, or start on a later day")
    status = "pending" if request.on > today else "active"
    agreement_id = stored.insert_agreement(conn, account[0], request.premise_id, point_id, request.service,
                                           request.on, status, request.attributes, request.tariff)
    if stored.point_state(conn, point_id) != "disconnected":
        return Started(agreement_id, point_id, status, False)
    # the field connects it for the first day served (or at once, when that is past)
    from cis.orders import active_or_new

    order_id = active_or_new(conn, "connect", point_id, account[0], actor,
                             f"service {agreement_id} starts on {request.on}", today=today,
                             due_on=max(request.on, today), source="lifecycle")
    return Started(agreement_id, point_id, status, True, order_id)


def stop(conn: psycopg.Connection, account_no: str, premise_id: int, service: str, on: date, actor: str,
         reason: str, final_read: dict | None = None) -> Stopped:
    """Stop the account's service at the premise: ``on`` is the first day no longer served. Its final
    bill is issued by ``m2c bills final`` once the reads through the last day served are in.
    ``final_read``: the final register read taken (vee.register_entry), recorded with the stop."""
    require_who_and_why(actor, reason, "stopping service needs who and why")
    with conn.transaction():
        stopped = _stop(conn, account_no, premise_id, service, on)
        record_event(conn, "service_stopped", account_no,
                     {"agreement_id": stopped.agreement_id, "premise_id": premise_id, "service": service,
                      "on": on.isoformat(), **({"final_read": final_read} if final_read else {})}, actor, reason)
    return stopped


def _stop(conn: psycopg.Connection, account_no: str, premise_id: int, service: str, on: date) -> Stopped:
    account = stored.account(conn, account_no)
    if account is None:
        raise UnknownAccount(f"no account {account_no}")
    stored.lock_account(conn, account[0])
    point_id = stored.service_point(conn, premise_id, service)
    serving = [a for a in stored.agreements_at_point(conn, point_id) if a[1] == account_no and a[3] is None] \
        if point_id is not None else []
    if not serving:
        raise NoAgreement(f"account {account_no} has no {service} service running at premise {premise_id}")
    agreement_id, _, first_day, _, _ = serving[-1]
    if on <= first_day:
        raise BadDate(f"service started on {first_day}: the first day no longer served must be later, not {on}")
    stored.stop_agreement(conn, agreement_id, on)
    return Stopped(agreement_id, point_id, date.fromordinal(on.toordinal() - 1))


def transfer(conn: psycopg.Connection, account_no: str, from_premise: int, to_premise: int, service: str, on: date,
             actor: str, reason: str, tariff: str | None = None, today: date | None = None,
             final_read: dict | None = None) -> tuple[Stopped, Started]:
    """Stop at one premise and start at another on the same account, in one transaction: ``on`` is the
    first day served at the new premise and the first day no longer served at the old one. The new
    agreement keeps the old one's tariff unless ``tariff`` names another."""
    require_who_and_why(actor, reason, "transferring service needs who and why")
    with conn.transaction():
        stopped = _stop(conn, account_no, from_premise, service, on)
        code = tariff or stored.tariff_of(conn, stopped.agreement_id)
        started = _start(conn, Start(account_no, to_premise, service, code, on), actor, today or date.today())
        record_event(conn, "service_transferred", account_no,
                     {"stopped_agreement_id": stopped.agreement_id, "started_agreement_id": started.agreement_id,
                      "from_premise": from_premise, "to_premise": to_premise, "service": service,
                      "on": on.isoformat(), "tariff": code,
                      **({"final_read": final_read} if final_read else {})}, actor, reason)
    return stopped, started

