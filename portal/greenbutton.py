"""Green Button "Download My Data": an account's interval data as a NAESB ESPI Atom feed.

Per meter: a UsagePoint (its service), a MeterReading, its ReadingType (unit, power of ten, interval
length, flow direction) and one IntervalBlock per local day; the feed starts with the account's
LocalTimeParameters. Elements are written in the order the ESPI schema requires; each payload
validates against the published ESPI XSD (tested).
"""
from __future__ import annotations

import uuid
from datetime import date, datetime, time, timedelta, timezone
from xml.sax.saxutils import escape
from zoneinfo import ZoneInfo

import psycopg

from portal.errors import BadRange
from storage import customer_views as views

ESPI_UOM = {"Wh": 72, "VArh": 73, "ft3": 119, "gal": 128, "therm": 169}
COMMODITY = {"electric": 1, "gas": 7, "water": 9}  # ESPI CommodityKind
SERVICE_KIND = {"electric": 0, "gas": 1, "water": 2}  # ESPI ServiceKind
# this system's quality codes -> ESPI QualityOfReading
QUALITY = {0: 0, 1: 8, 2: 7, 3: 10, 4: 11, 200: 7, 201: 9, 202: 8, 203: 8}
US_DST_START, US_DST_END = "360E2000", "B40E2000"  # second Sunday of March, first Sunday of November, 02:00
MAX_DAYS = 400


def _uuid(*parts) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, '/'.join(map(str, parts)))}"


def _entry(ids: tuple, self_href: str, up: str, related: list[str], title: str, content: str, now: str) -> str:
    links = "".join(f'<link rel="related" href="{escape(href)}"/>' for href in related)
    return (f"<entry><id>{_uuid(*ids)}</id><link rel=\"self\" href=\"{escape(self_href)}\"/>"
            f"<link rel=\"up\" href=\"{escape(up)}\"/>{links}<title>{escape(title)}</title>"
            f"<content>{content}</content><published>{now}</published><updated>{now}</updated></entry>\n")


def time_parameters(zone: str, year: int) -> str:
    info = ZoneInfo(zone)
    winter = int(datetime(year, 1, 15, tzinfo=info).utcoffset().total_seconds())
    summer = int(datetime(year, 7, 15, tzinfo=info).utcoffset().total_seconds())
    standard, saving = min(winter, summer), abs(summer - winter)
    start, end = (US_DST_START, US_DST_END) if saving else ("00000000", "00000000")
    return (f'<LocalTimeParameters xmlns="http://naesb.org/espi"><dstEndRule>{end}</dstEndRule>'
            f"<dstOffset>{saving}</dstOffset><dstStartRule>{start}</dstStartRule>"
            f"<tzOffset>{standard}</tzOffset></LocalTimeParameters>")


def feed(conn: psycopg.Connection, account_id: int, first: date, end: date, base: str = "/espi/1_1/resource") -> str:
    """The account's feed for local days [first, end)."""
    if not first < end or (end - first).days > MAX_DAYS:
        raise BadRange(f"a range of 1 to {MAX_DAYS} days")
    account_no, zone = views.account_number_and_zone(conn, account_id)
    meters = views.account_meters(conn, account_id)
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    customer = f"{base}/RetailCustomer/{escape(account_no)}"
    parts = ['<?xml version="1.0" encoding="UTF-8"?>\n<feed xmlns="http://www.w3.org/2005/Atom">'
             f"<id>{_uuid(account_no, first, end)}</id><title>Green Button usage of account {escape(account_no)}"
             f"</title><updated>{now}</updated>\n"]
    times = f"{base}/LocalTimeParameters/{escape(account_no)}"
    parts.append(_entry((account_no, "tz"), times, f"{base}/LocalTimeParameters", [], "Local time",
                        time_parameters(zone, first.year), now))
    info = ZoneInfo(zone)
    for meter_id, meter_no, service, unit, power, interval_s in meters:
        if unit not in ESPI_UOM:
            continue
        point = f"{customer}/UsagePoint/{escape(meter_no)}"
        reading = f"{point}/MeterReading/1"
        kind = f"{base}/ReadingType/{escape(meter_no)}"
        parts.append(_entry((meter_no, "up"), point, f"{customer}/UsagePoint", [f"{point}/MeterReading", times],
                            f"{service} meter {meter_no}",
                            f'<UsagePoint xmlns="http://naesb.org/espi"><ServiceCategory><kind>'
                            f"{SERVICE_KIND[service]}</kind></ServiceCategory></UsagePoint>", now))
        parts.append(_entry((meter_no, "rt"), kind, f"{base}/ReadingType", [], "Type of meter reading data",
                            '<ReadingType xmlns="http://naesb.org/espi"><accumulationBehaviour>4'
                            f"</accumulationBehaviour><commodity>{COMMODITY[service]}</commodity>"
                            f"<dataQualifier>12</dataQualifier><flowDirection>1</flowDirection>"
                            f"<intervalLength>{interval_s}</intervalLength><kind>12</kind>"
                            f"<powerOfTenMultiplier>{power}</powerOfTenMultiplier><timeAttribute>0</timeAttribute>"
                            f"<uom>{ESPI_UOM[unit]}</uom></ReadingType>", now))
        parts.append(_entry((meter_no, "mr"), reading, f"{point}/MeterReading", [kind, f"{reading}/IntervalBlock"],
                            "Meter reading", '<MeterReading xmlns="http://naesb.org/espi"/>', now))
        rows = views.meter_reads(conn, account_id, meter_id, first, end)
        by_day: dict[date, list] = {}
        for day, start, step, value, quality in rows:
            by_day.setdefault(day, []).append((start, step, value, quality))
        for day, readings in by_day.items():
            day_start = int(datetime.combine(day, time(0), info).timestamp())
            day_end = int(datetime.combine(day + timedelta(days=1), time(0), info).timestamp())
            body = [f'<IntervalBlock xmlns="http://naesb.org/espi"><interval><duration>{day_end - day_start}'
                    f"</duration><start>{day_start}</start></interval>"]
            for start, step, value, quality in readings:
                code = QUALITY.get(quality, 10)
                flag = f"<ReadingQuality><quality>{code}</quality></ReadingQuality>" if code else ""
                body.append(f"<IntervalReading>{flag}<timePeriod><duration>{step}</duration><start>{start}</start>"
                            f"</timePeriod><value>{value}</value></IntervalReading>")
            body.append("</IntervalBlock>")
            parts.append(_entry((meter_no, day), f"{reading}/IntervalBlock/{day_start}", f"{reading}/IntervalBlock", [],
                                f"{day:%Y-%m-%d}", "".join(body), now))
    parts.append("</feed>\n")
    return "".join(parts)
