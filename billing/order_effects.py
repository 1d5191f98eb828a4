"""An action on a service order as the command line and the staff API both take it: the register read
given at completion checked and stored with it, and what a completed order changes beyond the records
(the running estimate of the account behind a service point that was disconnected or reconnected: no
read says so)."""
from __future__ import annotations

from datetime import date, datetime

import psycopg
import redis

from billing.estimate import refresh_accounts
from cis import orders
from cis.errors import NotInstalled
from cis.orders import Order
from storage.accounts import account_id_of
from storage.cache import EstimateCache
from storage.installations import meter_at_point
from storage.tariffs import current_tariffs
from vee import register_entry

STATE_KINDS = ("connect", "disconnect", "reconnect")


def after_completion(conn: psycopg.Connection, order: Order, redis_url: str) -> bool:
    """Refresh the estimate of the order's account when the order changed its service point's state;
    False when Redis could not be reached (the estimate catches up at the next read or rebuild)."""
    if order.kind not in STATE_KINDS or order.account_no is None:
        return True
    account_id = account_id_of(conn, order.account_no)
    try:
        refresh_accounts(conn, EstimateCache.for_database(redis_url, conn), current_tariffs(conn), [account_id])
    except redis.RedisError:
        return False
    return True


def act(conn: psycopg.Connection, order_id: int, action: str, actor: str, reason: str, redis_url: str, *,
        at: datetime, day: date | None = None, completion: dict | None = None) -> tuple[Order, bool]:
    """Apply the action (``cis.orders.act``, the field-work system told through the recording gateway);
    a completion's ``read`` (in the meter's unit) is checked first against the meter installed at the
    service point then and stored in the same transaction. Returns the order and whether its estimate
    is up to date (see :func:`after_completion`)."""
    read = None
    if action == "complete" and (completion or {}).get("read") is not None:
        order = orders.get(conn, order_id)
        meter = meter_at_point(conn, order.service_point_id, at)
        if meter is None:
            raise NotInstalled(f"no meter is installed at service point {order.service_point_id} at {at.isoformat()}")
        read = register_entry.check(conn, meter[0], at, completion["read"])
    with conn.transaction():
        order = orders.act(conn, order_id, action, actor, reason, gateway=orders.RecordingFieldWork(conn), day=day,
                           at=at, completion=completion)
        if read is not None:
            register_entry.enter(conn, read, actor, reason)
    return order, after_completion(conn, order, redis_url) if order.status == "completed" else True
