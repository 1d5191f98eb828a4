"""Add a premise: a service address in the utility's (or its own) time zone, where service points and
meters are later installed. Recorded with who added it and why."""
from __future__ import annotations

from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg

from cis.errors import BadAddress, BadZone
from config.errors import require_who_and_why
from storage import customers as stored


def check_zone(zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        raise BadZone(f"{zone!r} is not an IANA time zone (e.g. America/Chicago)") from None


def add_premise(conn: psycopg.Connection, address: str, zone: str, actor: str, reason: str) -> int:
    """The new premise's id."""
    require_who_and_why(actor, reason, "adding a premise needs who and why")
    address = " ".join((address or "").split())
    if not address:
        raise BadAddress("a premise needs its address")
    check_zone(zone)
    with conn.transaction():
        premise_id = stored.insert_premise(conn, address, zone)
        stored.record_event(conn, "premise_added", f"premise:{premise_id}", {"address": address, "zone": zone},
                            actor, reason)
    return premise_id
