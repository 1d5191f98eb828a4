"""Customers, the accounts opened for them, premises, and the record of every lifecycle action
(``cis_events``)."""
from __future__ import annotations

import psycopg
from psycopg.types.json import Jsonb


def insert_customer(conn: psycopg.Connection, kind: str, name: str, email: str | None, phone: str | None,
                    mailing_address: str | None, preferences: dict, actor: str) -> int:
    return conn.execute(
        "insert into customers (kind, name, email, phone, mailing_address, preferences, created_by) "
        "values (%s, %s, %s, %s, %s, %s, %s) returning id",
        (kind, name, email, phone, mailing_address, Jsonb(preferences), actor)).fetchone()[0]


def customer(conn: psycopg.Connection, customer_id: int) -> tuple[int, str, str, str | None, str | None] | None:
    """(id, kind, name, e-mail, mailing address)."""
    return conn.execute("select id, kind, name, email, mailing_address from customers where id = %s",
                        (customer_id,)).fetchone()


def cycle(conn: psycopg.Connection, code: str) -> tuple[int, str] | None:
    """(id, zone) of the billing cycle with that code."""
    return conn.execute("select id, zone from billing_cycles where code = %s", (code,)).fetchone()


def next_account_number(conn: psycopg.Connection) -> str:
    return f"M{conn.execute('select nextval(%s)', ('account_numbers',)).fetchone()[0]:08d}"


def insert_account(conn: psycopg.Connection, account_no: str, customer_id: int, name: str, cycle_id: int, zone: str,
                   delivery: str, paperless: bool, email: str | None, mailing_address: str | None,
                   billing_entity: str) -> int:
    return conn.execute(
        "insert into accounts (account_no, customer_id, customer_name, billing_cycle_id, zone, delivery_channel, "
        "paperless, email, mailing_address, billing_entity) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
        "returning id",
        (account_no, customer_id, name, cycle_id, zone, delivery, paperless, email, mailing_address,
         billing_entity)).fetchone()[0]


def insert_premise(conn: psycopg.Connection, address: str, zone: str) -> int:
    return conn.execute("insert into premises (address, zone) values (%s, %s) returning id", (address, zone)).fetchone()[0]


def record_event(conn: psycopg.Connection, kind: str, subject: str, details: dict, actor: str, reason: str) -> None:
    conn.execute("insert into cis_events (kind, subject, details, actor, reason) values (%s, %s, %s, %s, %s)",
                 (kind, subject, Jsonb(details), actor, reason))


def events(conn: psycopg.Connection, subject: str) -> list[tuple]:
    """(kind, details, actor, reason, at) of the actions recorded on a subject, oldest first."""
    return conn.execute("select kind, details, actor, reason, at from cis_events where subject = %s order by id",
                        (subject,)).fetchall()


def cycle_codes(conn: psycopg.Connection) -> list[str]:
    return [r[0] for r in conn.execute("select code from billing_cycles order by code")]
