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


def publish(conn: psycopg.Connection, text: str, source: str = "<tariff>", published_by: str | None = None,
            reason: str | None = None) -> int:
    """Validate and store a tariff document (with who and why); the same text again returns its revision."""
    tariff = parse_tariff(text, source)  # raises TariffInvalid with every problem
    digest = hashlib.sha256(text.encode()).hexdigest()
    with conn.transaction():
        row = conn.execute(
            "insert into tariff_revisions (code, service, document, digest, published_by, reason) "
            "values (%s, %s, %s, %s, coalesce(%s, current_user), %s) on conflict (code, digest) do nothing "
            "returning id", (tariff.code, tariff.service, text, digest, published_by, reason)).fetchone()
        if row is None:
            row = conn.execute("select id from tariff_revisions where code = %s and digest = %s",
                               (tariff.code, digest)).fetchone()
    return row[0]


def current_tariffs(conn: psycopg.Connection) -> dict[str, PublishedTariff]:
    rows = conn.execute("select distinct on (code) id, code, document from tariff_revisions "
                        "order by code, id desc").fetchall()
    return {code: PublishedTariff(revision, parse_tariff(document, f"tariff_revisions/{revision}"))
            for revision, code, document in rows}


def publish_builtin_tariffs(conn) -> list[int]:
    """Publish the tariffs shipped in ``rating/tariffs``; returns their revision ids."""
    from importlib import resources

    folder = resources.files("rating.tariffs")
    return [publish(conn, p.read_text(), f"rating/tariffs/{p.name}")
            for p in sorted(folder.iterdir(), key=lambda p: p.name) if p.name.endswith(".toml")]


def tariff_document(conn: psycopg.Connection, code: str, revision: int | None = None) -> tuple[int, str] | None:
    """(revision id, TOML text) of a published tariff: the given revision, or the latest."""
    return conn.execute("select id, document from tariff_revisions where code = %s "
                        + ("and id = %s " if revision else "") + "order by id desc limit 1",
                        (code, revision) if revision else (code,)).fetchone()


def tariff_summaries(conn: psycopg.Connection) -> list[tuple]:
    """(code, service, revisions, latest revision id, latest published at) per tariff code."""
    return conn.execute("select code, service, count(*), max(id), max(published_at) from tariff_revisions "
                        "group by code, service order by code").fetchall()


def revisions(conn: psycopg.Connection, code: str) -> list[tuple]:
    """(revision id, published at, by, why) of a tariff code, newest first."""
    return conn.execute("select id, published_at, published_by, reason from tariff_revisions where code = %s "
                        "order by id desc", (code,)).fetchall()
