"""Head-end files of a simulated utility: CMEP (MEPMD01), Green Button (ESPI Atom) and CSV, written
from the same seeded load shapes as the streaming head-end, one block per meter and local day.
The blocks returned beside each file are what an importer must publish."""
from __future__ import annotations

import csv
import uuid
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from typing import Iterator
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import numpy as np

from simulators.headend import load_shape
from simulators.utility import Meter, Utility
from meterdata.codec import Block

# meter unit -> (CMEP units, ESPI uom)
CMEP_UNITS = {"Wh": ("KWH", 3), "gal": ("GAL", 0), "ft3": ("CF", 0)}
ESPI_UOM = {"Wh": 72, "gal": 128, "ft3": 119}
ESPI_COMMODITY = {"electric": 1, "gas": 7, "water": 9}
ESPI_SERVICE_KIND = {"electric": 0, "gas": 1, "water": 2}


def day_blocks(utility: Utility, first_day: date, days: int, seed: int = 5) -> Iterator[tuple[Meter, Block]]:
    zone = ZoneInfo(utility.zone)
    rngs = [np.random.default_rng([seed, 9, n]) for n in range(len(utility.meters))]
    for offset in range(days):
        day = first_day + timedelta(days=offset)
        start = int(datetime.combine(day, time(0), zone).timestamp())
        end = int(datetime.combine(day + timedelta(days=1), time(0), zone).timestamp())
        for number, meter in enumerate(utility.meters):
            moments = np.arange(start, end, meter.interval_s, dtype=np.int64)
            values = load_shape(meter, moments, utility.zone, rngs[number])
            yield meter, Block(meter.meter_no, 1, start, meter.interval_s, values, np.zeros(len(values), np.uint8))


def _decimal(value: int, power: int) -> str:
    return format(Decimal(value).scaleb(power).normalize(), "f")


def write_cmep(path: str, utility: Utility, blocks: list[tuple[Meter, Block]], registers: bool = True) -> int:
    """One interval record per block (interval-ending local times) and, with ``registers``, one
    register record per meter with its dial before and after. Returns the records written."""
    zone = ZoneInfo(utility.zone)
    stamp = datetime(2026, 11, 1, 6, 0).strftime("%Y%m%d%H%M")
    totals: dict[str, tuple[Meter, int, int, int]] = {}
    records = 0
    with open(path, "w", encoding="utf-8") as out:
        for meter, block in blocks:
            units, unit_power = CMEP_UNITS[meter.unit]
            interval = f"0000{block.interval_s // 3600:02d}{block.interval_s % 3600 // 60:02d}"
            triples = []
            for k, value in enumerate(block.values):
                end = datetime.fromtimestamp(block.start + (k + 1) * block.interval_s, zone)
                triples += [end.strftime("%Y%m%d%H%M"), "R0", _decimal(int(value), meter.power_of_ten - unit_power)]
            out.write(",".join(["MEPMD01", "20080501", "SIMHE", "M2C", meter.account_no, meter.meter_no, stamp,
                                meter.meter_no, "OK", meter.service[0].upper(), units, "1.0", interval,
                                str(len(block.values)), *triples]) + "\n")
            records += 1
            _, first, total, last = totals.get(meter.meter_no, (meter, block.start, 0, block.end))
            totals[meter.meter_no] = (meter, min(first, block.start), total + int(block.values.sum()),
                                      max(last, block.end))
        if registers:
            for meter_no, (meter, first, total, last) in totals.items():
                units, unit_power = CMEP_UNITS[meter.unit]
                dial = 10_000_000 + sum(map(ord, meter_no))  # in the meter's resolution
                reads = [(first, dial), (last, dial + total)]
                triples = []
                for moment, value in reads:
                    triples += [datetime.fromtimestamp(moment, zone).strftime("%Y%m%d%H%M"), "R0",
                                _decimal(value, meter.power_of_ten - unit_power)]
                out.write(",".join(["MEPMD01", "20080501", "SIMHE", "M2C", meter.account_no, meter_no, stamp, meter_no,
                                    "OK", meter.service[0].upper(), units + "REG", "1.0", "00000100", "2",
                                    *triples]) + "\n")
                records += 1
    return records


def write_csv(path: str, utility: Utility, blocks: list[tuple[Meter, Block]]) -> int:
    """Interval reads as CSV rows with local wall-clock times, values in the meter's unit."""
    zone = ZoneInfo(utility.zone)
    rows = 0
    with open(path, "w", newline="", encoding="utf-8") as out:
        writer = csv.writer(out)
        writer.writerow(["meter_id", "channel", "start", "interval_s", "value", "quality"])
        for meter, block in blocks:
            for k, value in enumerate(block.values):
                moment = datetime.fromtimestamp(block.start + k * block.interval_s, zone)
                writer.writerow([meter.meter_no, 1, moment.isoformat(), block.interval_s,
                                 _decimal(int(value), meter.power_of_ten), "actual"])
                rows += 1
    return rows


def write_espi(path: str, utility: Utility, blocks: list[tuple[Meter, Block]]) -> int:
    """An ESPI Atom feed: per meter a UsagePoint (id = the meter number), a ReadingType, a MeterReading
    and one IntervalBlock per block. Returns the IntervalBlocks written."""
    zone = ZoneInfo(utility.zone)
    by_meter: dict[str, list[tuple[Meter, Block]]] = {}
    for meter, block in blocks:
        by_meter.setdefault(meter.meter_no, []).append((meter, block))
    now = datetime(2026, 11, 1, tzinfo=timezone.utc).isoformat().replace("+00:00", "Z")
    written = 0
    with open(path, "w", encoding="utf-8") as out:
        out.write('<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">\n'
                  f'<id>urn:uuid:00000000-0000-4000-8000-000000000000</id><title>meter2cash simulator</title>'
                  f'<updated>{now}</updated>\n')
        offset = int(datetime(2026, 1, 15, tzinfo=zone).utcoffset().total_seconds())
        out.write(_entry("LocalTimeParameters/1", "LocalTimeParameters", "",
                         f"<LocalTimeParameters xmlns=\"http://naesb.org/espi\"><dstEndRule>B40E2000</dstEndRule>"
                         f"<dstOffset>3600</dstOffset><dstStartRule>360E2000</dstStartRule>"
                         f"<tzOffset>{offset}</tzOffset></LocalTimeParameters>", now))
        for meter_no, items in by_meter.items():
            meter = items[0][0]
            point = f"RetailCustomer/1/UsagePoint/{escape(meter_no)}"
            reading = f"{point}/MeterReading/1"
            kind = f"ReadingType/{escape(meter_no)}"
            out.write(_entry(point, "RetailCustomer/1/UsagePoint", f'<link rel="related" href="{reading[:-2]}"/>',
                             f"<UsagePoint xmlns=\"http://naesb.org/espi\"><ServiceCategory><kind>"
                             f"{ESPI_SERVICE_KIND[meter.service]}</kind></ServiceCategory></UsagePoint>", now))
            out.write(_entry(kind, "ReadingType", "",
                             "<ReadingType xmlns=\"http://naesb.org/espi\"><accumulationBehaviour>4"
                             f"</accumulationBehaviour><commodity>{ESPI_COMMODITY[meter.service]}</commodity>"
                             "<dataQualifier>12</dataQualifier><flowDirection>1</flowDirection>"
                             f"<intervalLength>{meter.interval_s}</intervalLength><kind>12</kind>"
                             f"<powerOfTenMultiplier>{meter.power_of_ten}</powerOfTenMultiplier>"
                             f"<timeAttribute>0</timeAttribute><uom>{ESPI_UOM[meter.unit]}</uom></ReadingType>", now))
            out.write(_entry(reading, f"{point}/MeterReading",
                             f'<link rel="related" href="{kind}"/><link rel="related" href="{reading}/IntervalBlock"/>',
                             '<MeterReading xmlns="http://naesb.org/espi"/>', now))
            for _, block in items:
                parts = [f"<IntervalBlock xmlns=\"http://naesb.org/espi\"><interval><duration>"
                         f"{block.interval_s * len(block.values)}</duration><start>{block.start}</start></interval>"]
                for k, value in enumerate(block.values):
                    parts.append(f"<IntervalReading><timePeriod><duration>{block.interval_s}</duration><start>"
                                 f"{block.start + k * block.interval_s}</start></timePeriod><value>{int(value)}"
                                 f"</value></IntervalReading>")
                parts.append("</IntervalBlock>")
                out.write(_entry(f"{reading}/IntervalBlock/{block.start}", f"{reading}/IntervalBlock", "",
                                 "".join(parts), now))
                written += 1
        out.write("</feed>\n")
    return written


def _entry(self_href: str, up: str, links: str, content: str, now: str) -> str:
    return (f'<entry><id>urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, self_href)}</id>'
            f'<link rel="self" href="{self_href}"/><link rel="up" href="{up}"/>{links}<title/>'
            f"<content>{content}</content><published>{now}</published><updated>{now}</updated></entry>\n")
