"""What a completed service order changes beyond the records: the running estimate of the account
behind a service point that was disconnected or reconnected (no read says so)."""
from __future__ import annotations

import psycopg
import redis

from billing.estimate import refresh_accounts
from cis.orders import Order
from storage.accounts import account_id_of
from storage.cache import EstimateCache
from storage.tariffs import current_tariffs

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
