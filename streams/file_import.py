"""``m2c import cmep|greenbutton|csv FILE``: parse a head-end file, match its meters, publish its
interval reads to ``ami.reads.raw`` (everything downstream is the streaming pipeline) and store its
register reads. Nothing is dropped silently: what is not imported is in the summary with its line."""
from __future__ import annotations

import csv
import io
import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import psycopg

from storage import registers
from meterdata.codec import Message, encode_binary
from meterdata.formats import cmep, csv_reads, espi
from meterdata.formats.registers import DAY, spread
from meterdata.formats.scaling import MeterUnit, Register, to_blocks, to_register
from meterdata.formats.series import Parsed, Rejected
from streams.producer import publish
from streams.errors import ImportFileInvalid

FORMATS = ("cmep", "greenbutton", "csv")


@dataclass
class ImportSummary:
    file: str
    format: str
    records: int = 0
    reads: int = 0
    blocks: int = 0
    registers: int = 0
    registers_changed: int = 0
    snapped: int = 0
    spread_reads: int = 0  # daily consumption of hand-read meters, from their register reads
    meters: set[str] = field(default_factory=set)
    rejected: list[Rejected] = field(default_factory=list)

    def reasons(self) -> dict[str, int]:
        return dict(Counter(r.reason for r in self.rejected))

    def as_dict(self) -> dict:
        return {"file": self.file, "format": self.format, "records": self.records, "reads": self.reads,
                "blocks": self.blocks, "meters": len(self.meters), "registers": self.registers,
                "registers_changed": self.registers_changed, "snapped": self.snapped,
                "daily_reads_from_registers": self.spread_reads, "rejected": len(self.rejected),
                "rejected_by_reason": self.reasons(),
                "rejections": [{"line": r.line, "reason": r.reason, "detail": r.detail} for r in self.rejected[:1000]]}

    def text(self) -> str:
        lines = [f"{self.file} ({self.format}): {self.records:,} records, {self.reads:,} interval reads in "
                 f"{self.blocks:,} blocks for {len(self.meters):,} meters, {self.registers:,} register reads "
                 f"({self.registers_changed:,} new or changed), {len(self.rejected):,} rejected"]
        if self.spread_reads:
            lines.append(f"  {self.spread_reads:,} daily reads of hand-read meters from their register reads")
        if self.snapped:
            lines.append(f"  {self.snapped:,} interval starts moved onto the interval grid (--snap-seconds)")
        lines.append("  checked here: meters, units, resolution, interval length and the meter's grid; the worker's "
                     "VEE checks the rest")
        for reason, count in sorted(self.reasons().items()):
            lines.append(f"  rejected {reason}: {count:,}")
        for r in self.rejected[:20]:
            lines.append(f"  line {r.line}: {r.reason}: {r.detail}")
        if len(self.rejected) > 20:
            lines.append(f"  … {len(self.rejected) - 20:,} more (--json for up to 1,000)")
        return "\n".join(lines)


def read_meter_map(path: str) -> dict[str, str]:
    """A CSV of ``source_id,meter_id``: the head-end's name of a meter (CMEP meter id, Green Button
    UsagePoint id, CSV meter_id) to the meter number registered here."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    if not rows or [c.strip().lower() for c in rows[0][:2]] != ["source_id", "meter_id"]:
        raise ImportFileInvalid(f"{path}: the first row must be the header source_id,meter_id")
    mapping: dict[str, str] = {}
    for number, row in enumerate(rows[1:], start=2):
        if len(row) < 2 or not row[0].strip() or not row[1].strip():
            raise ImportFileInvalid(f"{path}:{number}: a row is source_id,meter_id")
        mapping[row[0].strip()] = row[1].strip()
    return mapping


class _Counted(io.RawIOBase):
    """A binary file that reports how far it has been read."""

    def __init__(self, path: str, on_bytes):
        self.handle = open(path, "rb")
        self.total = os.fstat(self.handle.fileno()).st_size
        self.done = 0
        self.on_bytes = on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        count = self.handle.readinto(buffer)
        self.done += count
        if self.on_bytes:
            self.on_bytes(self.done, self.total)
        return count

    def close(self) -> None:
        self.handle.close()
        super().close()


def parse_file(kind: str, path: str, meter_field: str = "meter", on_bytes=None) -> Parsed:
    """The file's records; ``on_bytes(done, total)`` follows the reading."""
    with _Counted(path, on_bytes) as raw:
        if kind == "greenbutton":
            return espi.parse(raw)
        handle = io.TextIOWrapper(io.BufferedReader(raw, 1 << 20), encoding="utf-8-sig", newline="")
        try:
            return cmep.parse(handle, meter_field) if kind == "cmep" else csv_reads.parse(handle)
        except UnicodeDecodeError as error:
            return Parsed(rejected=[Rejected(0, "bad_encoding", f"not UTF-8 text: {error}")])


def import_file(conn: psycopg.Connection, bootstrap: str, topic: str, kind: str, path: str,
                meter_map: dict[str, str] | None = None, meter: str | None = None, meter_field: str = "meter",
                snap_seconds: int = 0, dry_run: bool = False, on_progress=None, on_bytes=None) -> ImportSummary:
    if kind not in FORMATS:
        raise ImportFileInvalid(f"format {kind!r} is not one of {FORMATS}")
    parsed = parse_file(kind, path, meter_field, on_bytes)
    summary = ImportSummary(Path(path).name, kind, records=parsed.records, rejected=list(parsed.rejected))

    def target(source_id: str) -> str:
        return meter or (meter_map or {}).get(source_id, source_id)

    wanted = sorted({target(s.source_id) for s in parsed.series} | {target(r.source_id) for r in parsed.registers})
    facts = registers.meter_units(conn, wanted)
    known = {number: MeterUnit(number, *row[1:]) for number, row in facts.items()}
    ids = {number: row[0] for number, row in facts.items()}
    messages = _interval_messages(parsed, target, known, snap_seconds, summary)
    stored, daily = _register_reads(parsed, target, known, ids, summary)
    messages += _spread_daily_registers(conn, daily, known, ids, summary)
    summary.rejected.sort(key=lambda r: r.line)
    if dry_run:
        return summary
    if messages:
        total = len(messages)
        publish(bootstrap, topic, messages, on_progress=(lambda done: on_progress(done, total)) if on_progress else None)
        if on_progress:
            on_progress(total, total)
    with conn.transaction():
        summary.registers_changed = registers.store(conn, stored, f"{kind}:{summary.file}")
    return summary


def _interval_messages(parsed: Parsed, target, known: dict, snap_seconds: int, summary: ImportSummary) -> list[Message]:
    """The file's interval series as day blocks of the meters they map to; series of unknown meters are
    rejected with their line."""
    messages: list[Message] = []
    for series in parsed.series:
        number = target(series.source_id)
        if number not in known:
            summary.rejected.append(Rejected(series.line, "unknown_meter",
                                             f"{series.source_id} -> {number}: no such meter ({len(series.values)} reads)"))
            continue
        converted = to_blocks(series, known[number], snap_seconds)
        summary.rejected.extend(converted.rejected)
        summary.snapped += converted.snapped
        if converted.blocks:
            summary.meters.add(number)
        summary.reads += converted.reads
        summary.blocks += len(converted.blocks)
        messages.extend(Message(b.meter_id.encode(), encode_binary(b)) for b in converted.blocks)
    return messages


def _register_reads(parsed: Parsed, target, known: dict, ids: dict, summary: ImportSummary) -> tuple[list, dict]:
    """(register rows to store, the reads of meters read once a day by meter and channel)."""
    stored: list[tuple] = []
    daily: dict[tuple[str, int], list[tuple[Register, int]]] = {}
    for read in parsed.registers:
        number = target(read.source_id)
        if number not in known:
            summary.rejected.append(Rejected(read.line, "unknown_meter", f"{read.source_id} -> {number}: no such meter"))
            continue
        result = to_register(read, known[number])
        if isinstance(result, Register):
            stored.append((ids[number], result.channel, result.read_at, result.value, result.quality))
            summary.meters.add(number)
            if known[number].interval_s == DAY:  # a meter read by hand or on a route: bill from its register
                daily.setdefault((number, result.channel), []).append((result, read.line))
        else:
            summary.rejected.append(result)
    summary.registers = len(stored)
    return stored, daily


def _spread_daily_registers(conn: psycopg.Connection, daily: dict, known: dict, ids: dict,
                            summary: ImportSummary) -> list[Message]:
    """A daily-read meter's consumption between its register reads, spread over the days between them
    (from the last read stored before the file's first)."""
    messages: list[Message] = []
    for (number, channel), reads in daily.items():
        first = min(r.read_at for r, _ in reads)
        before = registers.last_before(conn, ids[number], channel, first)
        previous = Register(number, channel, before[0], before[1], before[2]) if before else None
        blocks, problems = spread(previous, reads, known[number].zone)
        summary.rejected.extend(problems)
        summary.spread_reads += len(blocks)
        summary.blocks += len(blocks)
        messages.extend(Message(b.meter_id.encode(), encode_binary(b)) for b in blocks)
    return messages
