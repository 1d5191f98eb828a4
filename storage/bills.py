"""Bills and their corrections as staff list them."""
from __future__ import annotations

import psycopg


def bill_status(conn: psycopg.Connection, bill_id: int) -> str | None:
    row = conn.execute("select status from bills where id = %s", (bill_id,)).fetchone()
    return row[0] if row else None


def open_corrections(conn: psycopg.Connection) -> list[tuple]:
    """(bill id, account number, billed quantity, current quantity, billed reads, current reads,
    detected at) of every bill whose usage changed after billing and is not yet cancelled/rebilled."""
    return conn.execute("select c.bill_id, a.account_no, c.billed_quantity, c.current_quantity, "
                        "c.billed_reads, c.current_reads, c.detected_at from bill_corrections c "
                        "join accounts a on a.id = c.account_id where c.status = 'open' order by c.id").fetchall()


def unmatched_payments(conn: psycopg.Connection) -> list[tuple]:
    """(id, received on, amount minor, currency, channel, reference, account ref, invoice ref, reason)
    of payments that matched no account, for staff to match."""
    return conn.execute("select id, received_on, amount_minor, currency, channel, reference, account_ref, "
                        "invoice_ref, exception_reason from payments where status = 'unmatched' "
                        "order by id").fetchall()
