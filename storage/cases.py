"""Customer contacts and cases as stored: the contact log, the cases with their links and events, and
which bills an open dispute holds from collections."""
from __future__ import annotations

from datetime import date

import psycopg
from psycopg.types.json import Jsonb

_CASE = ("c.id, a.account_no, c.kind, c.status, c.summary, c.owner, c.due_on, c.resolution, c.opened_by, "
         "c.opened_at, c.closed_at, c.closed_by, coalesce((select json_agg(json_build_array(l.kind, l.ref_id) "
         "order by l.kind, l.ref_id) from case_links l where l.case_id = c.id), '[]'::json)")
_FROM = "from cases c join accounts a on a.id = c.account_id"


def insert_contact(conn: psycopg.Connection, account_id: int, channel: str, reason: str, notes: str,
                   actor: str, case_id: int | None = None) -> int:
    return conn.execute("insert into contacts (account_id, channel, reason, notes, actor, case_id) "
                        "values (%s, %s, %s, %s, %s, %s) returning id",
                        (account_id, channel, reason, notes, actor, case_id)).fetchone()[0]


def contacts(conn: psycopg.Connection, account_id: int, limit: int, offset: int) -> tuple[int, list[tuple]]:
    """(how many, a page of (id, channel, reason, notes, case id, actor, at), newest first)."""
    total = conn.execute("select count(*) from contacts where account_id = %s", (account_id,)).fetchone()[0]
    rows = conn.execute("select id, channel, reason, notes, case_id, actor, at from contacts where account_id = %s "
                        "order by at desc, id desc limit %s offset %s", (account_id, limit, offset)).fetchall()
    return total, rows


def insert_case(conn: psycopg.Connection, account_id: int, kind: str, summary: str, owner: str | None,
                due_on: date, actor: str) -> int:
    return conn.execute("insert into cases (account_id, kind, summary, owner, due_on, opened_by) "
                        "values (%s, %s, %s, %s, %s, %s) returning id",
                        (account_id, kind, summary, owner, due_on, actor)).fetchone()[0]


def link(conn: psycopg.Connection, case_id: int, kind: str, ref_id: int) -> bool:
    return conn.execute("insert into case_links (case_id, kind, ref_id) values (%s, %s, %s) on conflict do nothing",
                        (case_id, kind, ref_id)).rowcount == 1


def exists(conn: psycopg.Connection, kind: str, ref_id: int, account_id: int) -> bool:
    """Whether the bill, order or exception is the account's (an exception: of a meter it was billed for)."""
    if kind == "bill":
        query = "select 1 from bills where id = %s and account_id = %s"
    elif kind == "order":
        query = "select 1 from service_orders where id = %s and account_id = %s"
    else:
        query = ("select 1 from vee_exceptions e join agreement_meters am on am.meter_id = e.meter_id "
                 "join service_agreements sa on sa.id = am.service_agreement_id where e.id = %s and sa.account_id = %s")
    return conn.execute(query, (ref_id, account_id)).fetchone() is not None


def record_event(conn: psycopg.Connection, case_id: int, change: str, details: dict, actor: str, reason: str) -> None:
    conn.execute("insert into case_events (case_id, change, details, actor, reason) values (%s, %s, %s, %s, %s)",
                 (case_id, change, Jsonb(details), actor, reason))


def get(conn: psycopg.Connection, case_id: int, lock: bool = False) -> tuple | None:
    return conn.execute(f"select {_CASE} {_FROM} where c.id = %s" + (" for update of c" if lock else ""),
                        (case_id,)).fetchone()


def events(conn: psycopg.Connection, case_id: int) -> list[tuple]:
    return conn.execute("select change, details, actor, reason, at from case_events where case_id = %s order by id",
                        (case_id,)).fetchall()


def listing(conn: psycopg.Connection, statuses: list[str] | None, owner: str | None, account_no: str | None,
            kind: str | None, overdue_on: date | None, limit: int, offset: int) -> tuple[int, list[tuple]]:
    where, params = ["true"], []
    for column, value in (("c.status = any(%s)", statuses), ("c.owner = %s", owner), ("a.account_no = %s", account_no),
                          ("c.kind = %s", kind)):
        if value:
            where.append(column)
            params.append(value)
    if overdue_on is not None:
        where.append("c.due_on < %s and c.status <> 'closed'")
        params.append(overdue_on)
    condition = " and ".join(where)
    total = conn.execute(f"select count(*) {_FROM} where {condition}", params).fetchone()[0]
    rows = conn.execute(f"select {_CASE} {_FROM} where {condition} order by c.due_on, c.id limit %s offset %s",
                        [*params, limit, offset]).fetchall()
    return total, rows


def update(conn: psycopg.Connection, case_id: int, **columns) -> None:
    sets = ["updated_at = now()"] + [f"{name} = %s" for name in columns]
    conn.execute(f"update cases set {', '.join(sets)} where id = %s", [*columns.values(), case_id])


def account_of(conn: psycopg.Connection, case_id: int) -> int:
    return conn.execute("select account_id from cases where id = %s", (case_id,)).fetchone()[0]


def disputed_bills(conn: psycopg.Connection, bill_ids: list[int]) -> set[int]:
    """The bills of ``bill_ids`` linked to an open billing dispute."""
    return {r[0] for r in conn.execute(
        "select l.ref_id from case_links l join cases c on c.id = l.case_id where l.kind = 'bill' "
        "and l.ref_id = any(%s) and c.kind = 'billing_dispute' and c.status <> 'closed'", (bill_ids,))}


def attach_photo(conn: psycopg.Connection, case_id: int, content_type: str, data: bytes) -> int:
    return conn.execute("insert into case_attachments (case_id, content_type, data) values (%s, %s, %s) returning id",
                        (case_id, content_type, data)).fetchone()[0]


def photos(conn: psycopg.Connection, case_id: int) -> list[tuple[int, str, int]]:
    """(id, content type, bytes) of the case's photos."""
    return conn.execute("select id, content_type, length(data) from case_attachments where case_id = %s order by id",
                        (case_id,)).fetchall()


def set_request(conn: psycopg.Connection, case_id: int, request: dict) -> None:
    conn.execute("update cases set request = %s where id = %s", (Jsonb(request), case_id))


def request_of(conn: psycopg.Connection, case_id: int) -> dict | None:
    row = conn.execute("select request from cases where id = %s", (case_id,)).fetchone()
    return None if row is None else row[0]


def serving(conn: psycopg.Connection, account_no: str, service: str) -> tuple[int, str] | None:
    """(premise id, address) where the account's service of this kind runs now (open-ended)."""
    return conn.execute(
        "select sa.premise_id, p.address from service_agreements sa join accounts a on a.id = sa.account_id "
        "join premises p on p.id = sa.premise_id where a.account_no = %s and sa.service = %s "
        "and sa.end_date is null order by sa.start_date desc limit 1", (account_no, service)).fetchone()


def account_tariff(conn: psycopg.Connection, account_no: str, service: str) -> str | None:
    """The tariff of the account's latest agreement for this service, if it had one."""
    row = conn.execute(
        "select t.tariff_code from service_agreements sa join accounts a on a.id = sa.account_id "
        "join tariff_assignments t on t.service_agreement_id = sa.id where a.account_no = %s and sa.service = %s "
        "order by sa.start_date desc, t.effective_from desc limit 1", (account_no, service)).fetchone()
    return None if row is None else row[0]


def premise_at(conn: psycopg.Connection, address: str) -> int | None:
    """The premise with this address (spaces and case aside), if there is exactly one."""
    rows = conn.execute("select id from premises where lower(regexp_replace(address, '\\s+', ' ', 'g')) = lower(%s)",
                        (" ".join(address.split()),)).fetchall()
    return rows[0][0] if len(rows) == 1 else None
