"""Migration jobs as recorded, one per legacy extract (by the digest of its files)."""
from __future__ import annotations

import psycopg


def run_status(conn: psycopg.Connection, digest: str) -> str | None:
    """'running', 'failed' or 'finished' for an extract loaded before, None for one never loaded."""
    row = conn.execute("select status from migration_runs where digest = %s", (digest,)).fetchone()
    return row[0] if row else None
