"""Green Button / NAESB ESPI Atom feeds: UsagePoint, MeterReading, ReadingType, IntervalBlock.

Entries are linked by their Atom links: an IntervalBlock's ``up`` link names its MeterReading
(``…/MeterReading/x/IntervalBlock``), a MeterReading's ``related`` links name its ReadingType and its
``up`` link its UsagePoint. Real feeds redact or reuse those addresses; where a link names no entry
or more than one, the nearest entry of the right kind before it in the document is taken (the order
every feed seen so far writes them in). Readings are taken in any order and sorted later.
"""
from __future__ import annotations

import bisect
from dataclasses import dataclass, field

from lxml import etree

from meterdata.errors import FormatError
from meterdata.formats.series import (ACTUAL, EDITED_AT_SOURCE, ESTIMATED_AT_SOURCE, QUESTIONABLE_AT_SOURCE, Parsed,
                                    RegisterRead, Rejected, SourceSeries)

ATOM = "http://www.w3.org/2005/Atom"
ESPI = "http://naesb.org/espi"
# ESPI UnitSymbolKind -> unit
UNITS = {72: "Wh", 73: "VArh", 119: "ft3", 128: "gal", 169: "therm", 42: "m3"}
REVERSE_FLOW = 19
REGISTER_ACCUMULATION = (1, 3)  # bulkQuantity, cumulative: dial readings, not interval deltas
# ESPI QualityOfReading -> quality; 12 (projected) is a forecast, not a read
QUALITY = {0: ACTUAL, 14: ACTUAL, 17: ACTUAL, 18: ACTUAL, 19: ACTUAL, 11: ACTUAL,
           7: EDITED_AT_SOURCE, 8: ESTIMATED_AT_SOURCE, 9: ESTIMATED_AT_SOURCE,
           10: QUESTIONABLE_AT_SOURCE, 13: QUESTIONABLE_AT_SOURCE, 15: EDITED_AT_SOURCE, 16: QUESTIONABLE_AT_SOURCE}
PROJECTED = 12


@dataclass
class _Entry:
    kind: str
    line: int
    order: int
    self_href: str = ""
    up: str = ""
    related: list[str] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    readings: list[tuple[int, int, int, int | None, int]] = field(default_factory=list)  # start, s, value, q, line


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse(source) -> Parsed:
    """A feed from a path or a binary file object."""
    entries: list[_Entry] = []
    out = Parsed()
    try:
        for _, element in etree.iterparse(source, events=("end",), tag=f"{{{ATOM}}}entry", resolve_entities=False,
                                          no_network=True, load_dtd=False, huge_tree=False, remove_comments=True):
            entry = _entry(element, len(entries))
            if entry is not None:
                entries.append(entry)
            element.clear(keep_tail=False)
    except etree.XMLSyntaxError as error:
        out.rejected.append(Rejected(error.lineno or 0, "bad_xml", str(error)))
    _resolve(entries, out)
    return out


def _entry(element, order: int) -> _Entry | None:
    content = None
    links = []
    for child in element:
        name = _local(child.tag)
        if name == "link":
            links.append((child.get("rel", ""), child.get("href", "")))
        elif name == "content":
            content = next((c for c in child if _local(c.tag) in
                            ("UsagePoint", "MeterReading", "ReadingType", "IntervalBlock")), None)
    if content is None:
        return None
    entry = _Entry(_local(content.tag), content.sourceline or element.sourceline or 0, order)
    for rel, href in links:
        if rel == "self":
            entry.self_href = href
        elif rel == "up":
            entry.up = href
        elif rel == "related":
            entry.related.append(href)
    if entry.kind == "ReadingType":
        entry.fields = {_local(c.tag): (c.text or "").strip() for c in content if len(c) == 0}
    elif entry.kind == "UsagePoint":
        kind = content.find(f"{{{ESPI}}}ServiceCategory/{{{ESPI}}}kind")
        entry.fields = {"service_kind": (kind.text or "").strip() if kind is not None else ""}
    elif entry.kind == "IntervalBlock":
        for reading in content.iter(f"{{{ESPI}}}IntervalReading"):
            entry.readings.append(_reading(reading))
    return entry


_TIME_PERIOD, _START, _DURATION, _VALUE, _READING_QUALITY, _QUALITY = (
    f"{{{ESPI}}}{name}" for name in ("timePeriod", "start", "duration", "value", "ReadingQuality", "quality"))


def _reading(reading) -> tuple:
    start = duration = value = quality = None
    for child in reading:
        tag = child.tag
        if tag == _TIME_PERIOD:
            for part in child:
                if part.tag == _START:
                    start = part.text
                elif part.tag == _DURATION:
                    duration = part.text
        elif tag == _VALUE:
            value = child.text
        elif tag == _READING_QUALITY:
            for part in child:
                if part.tag == _QUALITY:
                    quality = part.text
    return start, duration, value, quality, reading.sourceline or 0


class _Index:
    """Entries by kind and by self link, for resolving links without a scan per block."""

    def __init__(self, entries: list[_Entry]):
        self.by_kind: dict[str, list[_Entry]] = {}
        self.by_href: dict[tuple[str, str], list[_Entry]] = {}
        for entry in entries:
            self.by_kind.setdefault(entry.kind, []).append(entry)
            self.by_href.setdefault((entry.kind, entry.self_href), []).append(entry)
        self.orders = {kind: [e.order for e in found] for kind, found in self.by_kind.items()}

    def pick(self, kind: str, href: str, before: int) -> _Entry | None:
        """The entry of ``kind`` whose self link is ``href`` when exactly one is; else the nearest one
        before position ``before``."""
        named = self.by_href.get((kind, href), []) if href else []
        if len(named) == 1:
            return named[0]
        entries = self.by_kind.get(kind, [])
        at = bisect.bisect_left(self.orders[kind], before) if entries else 0
        if at:
            return entries[at - 1]
        return entries[0] if len(entries) == 1 else None


def _resolve(entries: list[_Entry], out: Parsed) -> None:
    index = _Index(entries)
    _pick = index.pick
    for block in index.by_kind.get("IntervalBlock", []):
        out.records += 1
        reading_href = block.up[: -len("/IntervalBlock")] if block.up.endswith("/IntervalBlock") else block.up
        meter_reading = _pick("MeterReading", reading_href, block.order)
        if meter_reading is None:
            out.rejected.append(Rejected(block.line, "no_meter_reading", "no MeterReading entry for this IntervalBlock"))
            continue
        type_href = next((h for h in meter_reading.related if "ReadingType" in h), "")
        reading_type = _pick("ReadingType", type_href, meter_reading.order)
        if reading_type is None:
            out.rejected.append(Rejected(block.line, "no_reading_type",
                                         f"no ReadingType for the MeterReading at line {meter_reading.line}"))
            continue
        point_href = meter_reading.up[: -len("/MeterReading")] if meter_reading.up.endswith("/MeterReading") else ""
        point = _pick("UsagePoint", point_href, meter_reading.order)
        source_id = (point.self_href if point else point_href).rstrip("/").rsplit("/", 1)[-1] or "UsagePoint"
        try:
            _block(block, reading_type, source_id, out)
        except ValueError as error:
            out.rejected.append(Rejected(block.line, "bad_reading_type", str(error)))


def _int(fields: dict, name: str, default: int | None = None) -> int:
    text = fields.get(name, "")
    if not text:
        if default is None:
            raise FormatError(f"ReadingType has no {name}")
        return default
    return int(text)


def _block(block: _Entry, reading_type: _Entry, source_id: str, out: Parsed) -> None:
    fields = reading_type.fields
    uom = _int(fields, "uom")
    if uom not in UNITS:
        raise FormatError(f"uom {uom} is not one of {sorted(UNITS)}")
    unit, power = UNITS[uom], _int(fields, "powerOfTenMultiplier", 0)
    channel = 3 if unit == "VArh" else 2 if _int(fields, "flowDirection", 1) == REVERSE_FLOW else 1
    default_length = _int(fields, "intervalLength", 0)
    default_quality = fields.get("defaultQuality", "")
    register = _int(fields, "accumulationBehaviour", 4) in REGISTER_ACCUMULATION
    runs: dict[int, SourceSeries] = {}
    for start, duration, value, quality, line in block.readings:
        if value is None or not value.strip():
            continue
        try:
            at, length, amount = int(start), int(duration or default_length), int(value)
            code = int(quality if quality is not None and quality.strip() else (default_quality or 0))
        except (TypeError, ValueError):
            out.rejected.append(Rejected(line, "bad_reading", f"start {start!r}, duration {duration!r}, value {value!r}"))
            continue
        if code == PROJECTED:
            out.rejected.append(Rejected(line, "projected_reading", "quality 12 (projected) is a forecast, not a read"))
            continue
        mapped = QUALITY.get(code, QUESTIONABLE_AT_SOURCE)
        if register:
            out.registers.append(RegisterRead(source_id, channel, unit, power, amount, at + length, None, mapped, line))
            continue
        if length <= 0:
            out.rejected.append(Rejected(line, "bad_reading", "an interval reading without a duration"))
            continue
        series = runs.get(length)
        if series is None:
            series = runs[length] = SourceSeries(source_id, channel, unit, length, block.line, power)
            out.series.append(series)
        series.starts.append(at)
        series.values.append(amount)
        series.quality.append(mapped)
        series.lines.append(line)
