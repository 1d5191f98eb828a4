"""Customer contacts and cases.

Every interaction with a customer is a contact on the account: its channel, its reason, notes and who
took it. What needs follow-up is a case — a high-bill complaint, a leak report, a billing dispute, a
move request, an outage — with an owner, a due day, a status (open, in progress, waiting for the
customer, closed), links to the bills, service orders and VEE exceptions it is about, and every
change recorded with who and why. Closing a case tells the customer by their bill-delivery channel (a
``case_closed`` notice with the resolution). While a billing dispute is open, the bills it links are
held from collections (``billing.dunning``).
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

import psycopg

from cis.errors import CisError, UnknownAccount
from config.errors import require_who_and_why
from storage import cases as stored
from storage import installations
from cis import notices

CHANNELS = ("phone", "email", "portal", "walk_in", "letter", "field")
REASONS = ("billing_question", "payment", "high_bill", "leak", "outage", "move", "dispute", "service_order",
           "complaint", "other")
KINDS = ("high_bill", "leak_report", "billing_dispute", "move_request", "outage", "arrangement_request", "other")
STATUSES = ("open", "in_progress", "waiting_customer", "closed")
LINKS = ("bill", "order", "exception")
DUE_DAYS = {"high_bill": 5, "leak_report": 1, "billing_dispute": 10, "move_request": 3, "outage": 1,
            "arrangement_request": 3, "other": 5}
# the contact reason a case of each kind is logged with
REASON_OF = {"high_bill": "high_bill", "leak_report": "leak", "billing_dispute": "dispute", "move_request": "move",
             "outage": "outage", "arrangement_request": "payment", "other": "other"}


class BadCase(CisError):
    code = "bad_case"


class UnknownCase(CisError):
    code = "case_not_found"
    status = 404


class CaseClosed(CisError):
    code = "case_closed"
    status = 409


@dataclass(frozen=True)
class Case:
    id: int
    account_no: str
    kind: str
    status: str
    summary: str
    owner: str | None
    due_on: date
    resolution: str | None
    opened_by: str
    opened_at: datetime
    closed_at: datetime | None
    closed_by: str | None
    links: list

    def overdue(self, today: date) -> bool:
        return self.status != "closed" and self.due_on < today

    def document(self, today: date | None = None) -> dict:
        return {"id": self.id, "account_no": self.account_no, "kind": self.kind, "status": self.status,
                "summary": self.summary, "owner": self.owner, "due_on": self.due_on.isoformat(),
                "resolution": self.resolution, "opened_by": self.opened_by, "opened_at": self.opened_at.isoformat(),
                "closed_at": self.closed_at.isoformat() if self.closed_at else None, "closed_by": self.closed_by,
                "links": [{"kind": k, "id": i} for k, i in self.links],
                "overdue": self.overdue(today) if today is not None else None}


def _account(conn: psycopg.Connection, account_no: str) -> int:
    found = installations.account(conn, account_no)
    if found is None:
        raise UnknownAccount(f"no account {account_no}")
    return found[0]


def _check(value: str, allowed: tuple[str, ...], what: str) -> None:
    if value not in allowed:
        raise BadCase(f"{what} must be one of {', '.join(allowed)}, not {value!r}")


def log_contact(conn: psycopg.Connection, account_no: str, channel: str, reason: str, notes: str, actor: str,
                case_id: int | None = None) -> int:
    """Log an interaction on the account; returns its id."""
    require_who_and_why(actor, reason, "a contact needs who took it and its reason")
    _check(channel, CHANNELS, "channel")
    _check(reason, REASONS, "reason")
    account_id = _account(conn, account_no)
    if case_id is not None and (stored.get(conn, case_id) is None or stored.account_of(conn, case_id) != account_id):
        raise BadCase(f"no case {case_id} on account {account_no}")
    return stored.insert_contact(conn, account_id, channel, reason, (notes or "").strip(), actor, case_id)


def contacts(conn: psycopg.Connection, account_no: str, limit: int = 50, offset: int = 0) -> tuple[int, list[dict]]:
    total, rows = stored.contacts(conn, _account(conn, account_no), limit, offset)
    return total, [{"id": i, "channel": ch, "reason": r, "notes": n, "case_id": c, "actor": a, "at": at.isoformat()}
                   for i, ch, r, n, c, a, at in rows]


def open_case(conn: psycopg.Connection, account_no: str, kind: str, summary: str, actor: str, *, today: date,
              owner: str | None = None, due_on: date | None = None, links: list[tuple[str, int]] = (),
              channel: str | None = None) -> Case:
    """Open a case on the account (and, with ``channel``, log the contact that raised it)."""
    require_who_and_why(actor, summary, "a case needs who opened it and what it is about")
    _check(kind, KINDS, "kind")
    if due_on is not None and due_on < today:
        raise BadCase(f"a case cannot be due before today ({due_on})")
    account_id = _account(conn, account_no)
    with conn.transaction():
        case_id = stored.insert_case(conn, account_id, kind, summary.strip(), owner or None,
                                     due_on or today + timedelta(days=DUE_DAYS[kind]), actor)
        stored.record_event(conn, case_id, "opened", {"kind": kind, "owner": owner}, actor, summary.strip())
        for link_kind, ref_id in links:
            _link(conn, case_id, account_id, link_kind, ref_id, actor)
        if channel is not None:
            log_contact(conn, account_no, channel, REASON_OF[kind], summary, actor, case_id)
    return get(conn, case_id)


def _link(conn: psycopg.Connection, case_id: int, account_id: int, kind: str, ref_id: int, actor: str) -> None:
    _check(kind, LINKS, "a link")
    if not stored.exists(conn, kind, ref_id, account_id):
        raise BadCase(f"no {kind} {ref_id} on the case's account")
    if stored.link(conn, case_id, kind, ref_id):
        stored.record_event(conn, case_id, "linked", {"kind": kind, "id": ref_id}, actor, f"{kind} {ref_id}")


def get(conn: psycopg.Connection, case_id: int) -> Case:
    row = stored.get(conn, case_id)
    if row is None:
        raise UnknownCase(f"no case {case_id}")
    return Case(*row[:-1], [tuple(link) for link in row[-1]])


def history(conn: psycopg.Connection, case_id: int) -> list[dict]:
    return [{"change": c, "details": d, "actor": a, "reason": r, "at": at.isoformat()}
            for c, d, a, r, at in stored.events(conn, case_id)]


def listing(conn: psycopg.Connection, *, status: list[str] | None = None, owner: str | None = None,
            account_no: str | None = None, kind: str | None = None, overdue_on: date | None = None,
            limit: int = 50, offset: int = 0) -> tuple[int, list[Case]]:
    total, rows = stored.listing(conn, status, owner, account_no, kind, overdue_on, limit, offset)
    return total, [Case(*r[:-1], [tuple(link) for link in r[-1]]) for r in rows]


def update_case(conn: psycopg.Connection, case_id: int, actor: str, reason: str, *, owner: str | None = None,
                status: str | None = None, due_on: date | None = None, links: list[tuple[str, int]] = (),
                today: date | None = None) -> Case:
    """Assign, move on, reschedule or link a case that is not closed; a note alone is recorded too."""
    require_who_and_why(actor, reason, "a change to a case needs who and why")
    if status is not None:
        _check(status, STATUSES[:-1], "status (close a case with its resolution)")
    with conn.transaction():
        _open_case(conn, case_id)
        changes: dict = {}
        if owner is not None:
            changes["owner"] = owner.strip() or None
        if status is not None:
            changes["status"] = status
        if due_on is not None:
            if today is not None and due_on < today:
                raise BadCase(f"a case cannot be due before today ({due_on})")
            changes["due_on"] = due_on
        if changes:
            stored.update(conn, case_id, **changes)
        stored.record_event(conn, case_id, "changed" if changes else "note",
                            {k: str(v) if isinstance(v, date) else v for k, v in changes.items()}, actor, reason)
        account_id = stored.account_of(conn, case_id)
        for link_kind, ref_id in links:
            _link(conn, case_id, account_id, link_kind, ref_id, actor)
    return get(conn, case_id)


def _open_case(conn: psycopg.Connection, case_id: int) -> tuple:
    """The case's row, locked; refused when there is none or it is closed."""
    row = stored.get(conn, case_id, lock=True)
    if row is None:
        raise UnknownCase(f"no case {case_id}")
    if row[3] == "closed":
        raise CaseClosed(f"case {case_id} is closed")
    return row


def close_case(conn: psycopg.Connection, case_id: int, resolution: str, actor: str) -> Case:
    """Close the case with its resolution and tell the customer (a ``case_closed`` notice, delivered by
    the account's channel)."""
    require_who_and_why(actor, resolution, "closing a case needs who and its resolution")
    with conn.transaction():
        row = _open_case(conn, case_id)
        stored.update(conn, case_id, status="closed", resolution=resolution.strip(), closed_by=actor,
                      closed_at=datetime.now().astimezone())
        stored.record_event(conn, case_id, "closed", {}, actor, resolution.strip())
        kind = row[2].replace("_", " ")
        notices.send(conn, stored.account_of(conn, case_id), "case_closed",
                     {"case_kind": kind, "case_id": case_id, "summary": row[4], "resolution": resolution.strip()})
    return get(conn, case_id)
