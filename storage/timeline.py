"""An account's timeline as stored: every bill, payment, charge or credit, notice, VEE exception at
its meters, contact, case event, service-order event and change of its records, newest first."""
from __future__ import annotations

import psycopg

KINDS = ("bill", "payment", "ledger", "notice", "exception", "contact", "case", "order", "record")

# each source as (at, kind, reference, what, amount in minor units, who); %(a)s is the account id,
# %(no)s its number
_SOURCES = {
    "bill": "select b.issued_at, 'bill', b.id::text, 'bill ' || b.id || ' (' || b.kind || ') for ' || b.period_start "
            "|| ' to ' || (b.period_end - 1) || case when b.status = 'cancelled' then ', cancelled: ' || "
            "coalesce(b.cancel_reason, '') else '' end, b.total_due_minor, null::text from bills b "
            "where b.account_id = %(a)s",
    "payment": "select p.created_at, 'payment', p.id::text, 'payment ' || p.reference || ' by ' || p.method || ' (' "
               "|| p.channel || '), received ' || p.received_on || case when p.status = 'returned' then "
               "', returned: ' || coalesce(p.return_reason, '') else '' end, -p.amount_minor, null::text "
               "from payments p where p.account_id = %(a)s",
    "ledger": "select l.posted_at, 'ledger', l.transaction_id::text, replace(l.entry_type, '_', ' ') || "
              "coalesce(': ' || l.memo, ''), l.amount_minor, l.created_by from ledger_entries l "
              "where l.account_id = %(a)s and l.ledger_account = 'receivable' and l.entry_type not in "
              "('bill', 'payment')",
    "notice": "select n.created_at, 'notice', n.id::text, n.kind || ': ' || n.subject || case when n.delivered_at "
              "is null then ' (not delivered yet)' else '' end, null::bigint, null::text from notices n "
              "where n.account_id = %(a)s",
    "exception": "select e.created_at, 'exception', e.id::text, array_to_string(e.rules, ', ') || ' at meter ' || "
                 "e.meter_no || ' (' || e.severity || ', ' || e.status || ')', null::bigint, null::text "
                 "from vee_exceptions e join service_agreements sa on sa.id = agreement_at(e.meter_id, e.block_start) "
                 "where e.meter_id in (select am.meter_id from agreement_meters am join service_agreements s2 on "
                 "s2.id = am.service_agreement_id where s2.account_id = %(a)s) and sa.account_id = %(a)s",
    "contact": "select c.at, 'contact', c.id::text, c.channel || ', ' || replace(c.reason, '_', ' ') || "
               "case when c.notes <> '' then ': ' || c.notes else '' end, null::bigint, c.actor from contacts c "
               "where c.account_id = %(a)s",
    "case": "select e.at, 'case', k.id::text, 'case ' || k.id || ' (' || replace(k.kind, '_', ' ') || ') ' || e.change "
            "|| ': ' || e.reason, null::bigint, e.actor from case_events e join cases k on k.id = e.case_id "
            "where k.account_id = %(a)s",
    "order": "select e.at, 'order', o.id::text, 'order ' || o.id || ' (' || replace(o.kind, '_', ' ') || ') ' || "
             "e.status || ': ' || e.reason, null::bigint, e.actor from service_order_events e join service_orders o "
             "on o.id = e.order_id where o.account_id = %(a)s",
    "record": "select v.at, 'record', v.id::text, replace(v.kind, '_', ' ') || ': ' || v.reason, null::bigint, "
              "v.actor from cis_events v where v.subject = %(no)s",
}


def timeline(conn: psycopg.Connection, account_id: int, account_no: str, kinds: list[str], limit: int,
             offset: int) -> tuple[int, list[tuple]]:
    """(how many events there are, the page of (at, kind, reference, what, amount minor, who)), newest first."""
    union = " union all ".join(_SOURCES[k] for k in kinds)
    values = {"a": account_id, "no": account_no, "limit": limit, "offset": offset}
    total = conn.execute(f"select count(*) from ({union}) t", values).fetchone()[0]
    rows = conn.execute(f"select * from ({union}) t order by 1 desc, 2, 3 desc limit %(limit)s offset %(offset)s",
                        values).fetchall()
    return total, rows
