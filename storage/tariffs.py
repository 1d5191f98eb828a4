"""Published tariff revisions: staff publish a new document; the newest revision of a code is in force."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass

import psycopg

from rating.tariff import Tariff, parse_tariff


@dataclass(frozen=True)
class PublishedTariff:
    revision_id: int
    tariff: Tariff


def publish(conn: psycopg.Connection, text: str, source: str = "<tariff>", published_by: str | None = None) -> int:
    """Validate and store a tariff document; publishing the same text again returns its revision."""
    tariff = parse_tariff(text, source)  # raises TariffInvalid with every problem
    digest = hashlib.sha256(text.encode()).hexdigest()
    with conn.transaction():
        row = conn.execute(
            "insert into tariff_revisions (code, service, document, digest, published_by) "
            "values (%s, %s, %s, %s, coalesce(%s, current_user)) on conflict (code, digest) do nothing returning id",
            (tariff.code, tariff.service, text, digest, published_by)).fetchone()
        if row is None:
            row = conn.execute("select id from tariff_revisions where code = %s and digest = %s",
                               (tariff.code, digest)).fetchone()
    return row[0]


def current_tariffs(conn: psycopg.Connection) -> dict[str, PublishedTariff]:
    rows = conn.execute("select distinct on (code) id, code, document from tariff_revisions "
                        "order by code, id desc").fetchall()
    return {code: PublishedTariff(revision, parse_tariff(document, f"tariff_revisions/{revision}"))
            for revision, code, document in rows}
