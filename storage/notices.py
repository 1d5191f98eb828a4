"""Outbound notices to a customer (bill ready, reminder, final notice, disconnect eligibility,
returned payment, arrangement, alerts); delivered through the account's channel by
:mod:`billing.delivery`. Also what the alerts look for: who asked for them, and notices already sent."""
from __future__ import annotations

import psycopg


def create_notice(conn: psycopg.Connection, account_id: int, kind: str, subject: str, body: str,
                  bill_id: int | None = None, channel: str | None = None, required: bool = False) -> int:
    """Store a rendered notice (:mod:`cis.notices` renders it); ``channel`` None: the account's own."""
    return conn.execute("insert into notices (account_id, bill_id, kind, subject, body, channel, required) "
                        "values (%s, %s, %s, %s, %s, %s, %s) returning id",
                        (account_id, bill_id, kind, subject, body, channel, required)).fetchone()[0]


def addressee(conn: psycopg.Connection, account_id: int) -> tuple[str, str, str, bool] | None:
    """(billing entity code, currency, delivery channel, whether it has an e-mail address) of an account."""
    return conn.execute("select billing_entity, currency, delivery_channel, email is not null from accounts "
                        "where id = %s", (account_id,)).fetchone()


def notice_sent(conn: psycopg.Connection, account_id: int, kind: str, subject: str) -> bool:
    return conn.execute("select 1 from notices where account_id = %s and kind = %s and subject = %s",
                        (account_id, kind, subject)).fetchone() is not None


def high_usage_watchers(conn: psycopg.Connection) -> list[tuple[int, str, int | None]]:
    """(account id, currency, amount in minor units) of the accounts that asked for high-usage alerts."""
    return conn.execute("select a.id, a.currency, p.high_usage_minor from portal_alerts p join accounts a on "
                        "a.id = p.account_id where p.high_usage").fetchall()


def leaks_to_tell(conn: psycopg.Connection) -> list[tuple]:
    """(account id, meter number, day start, zone) of continuous-flow exceptions at meters of accounts that
    asked for leak alerts."""
    return conn.execute(
        "select distinct sa.account_id, m.meter_no, e.block_start, m.zone from vee_exceptions e "
        "join meters m on m.id = e.meter_id join service_agreements sa on sa.id = agreement_at(e.meter_id, e.block_start) "
        "join portal_alerts p on p.account_id = sa.account_id and p.leak "
        "where 'continuous_flow' = any(e.rules) order by 1, 3").fetchall()
