"""Usage of service agreements over billing periods, from the usage_daily rollup (authoritative) of their
service points on the days each agreement was in force, and the stored intervals of the meters installed there."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from storage.copy_text import int_array
from storage.errors import NullHourlySum
from storage.pg_binary import parse_array, raw_array_cursor

CONSUMPTION_CHANNEL = 1  # delivered to the customer
EXPORT_CHANNEL = 2  # received from the customer (solar export): priced by net metering and export credits
REACTIVE_CHANNEL = 3  # reactive energy (varh), for power-factor adjustments


@dataclass(frozen=True)
class Period:
    id: int
    start: date
    end: date  # excluded

    @property
    def days(self) -> int:
        return (self.end - self.start).days


@dataclass(frozen=True)
class AgreementUsage:
    account_id: int
    period: Period
    service_agreement_id: int
    service: str
    tariff_code: str | None
    quantity: int  # in the meter's unit x 10^power_of_ten
    read_count: int
    last_day: date | None  # last local day with usage in the period
    unit: str
    power_of_ten: int
    zone: str
    currency: str
    attributes: dict
    service_from: date
    service_to: date | None
    interval_s: int = 0  # the meter's interval length
    estimated_count: int = 0  # reads in the period that are estimates (meterdata.day_rows.estimated_count)
    disconnected_on: date | None = None  # the service point is disconnected (a completed order) since this day
    # the intervals its days should hold, where its service point's meters changed in the period (an
    # exchange to another interval length): counted per installation; None: every day at ``interval_s``
    expected_reads: int | None = None


# the agreement ``sa``'s days in the period ``p`` are a final bill's: stopped in the period or before, or
# final-billed already
_FINAL_TAKES = ("(sa.status = 'stopped' and sa.end_date <= p.period_end or exists (select 1 from bills fb "
                "where fb.final_agreement_id = sa.id and fb.status = 'issued'))")
_AGREEMENTS_BASE = """
select t.account_id, t.period_id, p.period_start, p.period_end, sa.id, sa.service,
       (select ta.tariff_code from tariff_assignments ta
         where ta.service_agreement_id = sa.id and ta.effective_from < p.period_end
         order by ta.effective_from desc limit 1),
       m.unit, m.power_of_ten, a.zone, a.currency, nullif(sa.attributes, '{{}}'::jsonb)::text, sa.start_date,
       sa.end_date, m.interval_s,
       (sp.state_since at time zone a.zone)::date, sa.service_point_id
from unnest(%s::int8[], %s::int8[]) as t(account_id, period_id)
join billing_periods p on p.id = t.period_id
join accounts a on a.id = t.account_id
join service_agreements sa on {which}
     and sa.start_date < p.period_end and (sa.end_date is null or sa.end_date > p.period_start)
join lateral (select unit, power_of_ten, interval_s from agreement_meters am join meters on meters.id = am.meter_id
              where am.service_agreement_id = sa.id order by am.installed_at desc limit 1) m on true
left join service_points sp on sp.id = sa.service_point_id and sp.state = 'disconnected'
order by t.account_id, sa.id
"""
# a regular bill: the account's agreements in force in the period, but not the days a final bill takes
_AGREEMENTS_SQL = _AGREEMENTS_BASE.format(which=f"sa.account_id = t.account_id and not {_FINAL_TAKES}")
# a final bill: the one agreement (%s), in the period its service ended
_FINAL_SQL = _AGREEMENTS_BASE.format(which="sa.account_id = t.account_id and sa.id = %s")

# one index scan over all the agreements of a period (cheaper than one per agreement)
_ROLLUP_SQL = """
select service_agreement_id, sum(quantity), sum(read_count), max(local_day), sum(estimated_count)
from agreement_usage_daily
where service_agreement_id = any(%s::int8[]) and channel = %s and local_day >= %s and local_day < %s
group by service_agreement_id
"""
_NO_USAGE = (Decimal(0), 0, None, 0)  # (quantity, read_count, last_day, estimated_count) of no rows


def usage_for(conn: psycopg.Connection, targets: list[tuple[int, int]],
              final_agreement: int | None = None) -> list[AgreementUsage]:
    """Usage of every agreement of each (account, period) target that a regular bill of the period
    takes; with ``final_agreement``, of that agreement only (its final bill's)."""
    if not targets:
        return []
    accounts, periods_ = int_array([t[0] for t in targets]), int_array([t[1] for t in targets])
    rows = conn.execute(_AGREEMENTS_SQL, (accounts, periods_)).fetchall() if final_agreement is None else \
        conn.execute(_FINAL_SQL, (accounts, periods_, final_agreement)).fetchall()
    periods: dict[int, Period] = {}
    agreements: dict[int, set[int]] = {}
    for r in rows:
        if r[1] not in periods:
            periods[r[1]] = Period(r[1], r[2], r[3])
        agreements.setdefault(r[1], set()).add(r[4])
    rollup: dict[tuple[int, int], tuple] = {}
    for period_id, ids in agreements.items():
        period = periods[period_id]
        for agreement_id, *totals in conn.execute(
                _ROLLUP_SQL, (int_array(sorted(ids)), CONSUMPTION_CHANNEL, period.start, period.end)).fetchall():
            rollup[(agreement_id, period_id)] = tuple(totals)
    changed = _changed_points(conn, rows)
    found = []
    for r in rows:
        quantity, read_count, last_day, estimated = rollup.get((r[4], r[1]), _NO_USAGE)
        attributes = json.loads(r[11]) if r[11] is not None else {}  # most agreements have none
        usage = AgreementUsage(r[0], periods[r[1]], r[4], r[5], r[6], quantity, read_count, last_day,
                               r[7], r[8], r[9], r[10], attributes, r[12], r[13], r[14], estimated, r[15])
        windows = changed.get((r[16], r[1]))
        if windows is not None:
            usage = replace(usage, expected_reads=_expected(usage, windows))
        found.append(usage)
    return found


def _changed_points(conn: psycopg.Connection, rows: list) -> dict[tuple[int, int], list[tuple]]:
    """(service point, period) -> its installations (start, end epoch seconds, interval) for the points
    whose meters were not all of one interval length (rare: an exchange to another interval length);
    every other point reads ``interval_s`` all through."""
    points = sorted({r[16] for r in rows})
    if not points:
        return {}
    found: dict[int, list[tuple]] = {}
    for point, start, stop, interval_s in conn.execute(
            "select i.service_point_id, extract(epoch from i.installed_at)::int8, extract(epoch from i.removed_at)::int8, "
            "m.interval_s from meter_installations i join meters m on m.id = i.meter_id "
            "where i.service_point_id in (select p.service_point_id from meter_installations p "
            " join meters pm on pm.id = p.meter_id where p.service_point_id = any(%s::int8[]) "
            " group by p.service_point_id having count(distinct pm.interval_s) > 1) order by 1, 2",
            (int_array(points),)):
        found.setdefault(point, []).append((start, stop, interval_s))
    changed = {}
    for r in rows:
        windows = found.get(r[16])
        if windows and len({w[2] for w in windows}) > 1:
            changed[(r[16], r[1])] = windows
    return changed


def _expected(usage: AgreementUsage, windows: list[tuple]) -> int:
    """The intervals of the agreement's days of service that its service point's installations cover,
    each at its own meter's interval length."""
    zone = ZoneInfo(usage.zone)
    first = max(usage.period.start, usage.service_from)
    last = min(usage.period.end, usage.service_to) if usage.service_to else usage.period.end
    lo = int(datetime.combine(first, time(), zone).timestamp())
    hi = int(datetime.combine(max(first, last), time(), zone).timestamp())
    total = 0
    for start, stop, interval_s in windows:
        overlap = min(hi, stop if stop is not None else hi) - max(lo, start)
        if overlap > 0:
            total += overlap // interval_s
    return total


def leaving_accounts(conn: psycopg.Connection, account_ids: list[int], billing_period_id: int) -> set[int]:
    """The accounts with an agreement in the period that its final bill takes (stopped in it or before,
    or final-billed)."""
    return {r[0] for r in conn.execute(
        "select distinct sa.account_id from service_agreements sa join billing_periods p on p.id = %s "
        "where sa.account_id = any(%s::int8[]) and sa.start_date < p.period_end and sa.end_date > p.period_start "
        f"and {_FINAL_TAKES}",
        (billing_period_id, int_array(account_ids))).fetchall()}


_LATEST_OPEN_PERIOD_SQL = (
    "select p.id, p.period_start, p.period_end from accounts a join billing_periods p on p.billing_cycle_id = a.billing_cycle_id "
    "where a.id = %s and p.closed_at is null order by p.period_start desc limit 1")


def latest_open_period(conn: psycopg.Connection, account_id: int) -> int | None:
    """The id of the account's latest open billing period (the one its running estimate is of)."""
    row = latest_open_period_days(conn, account_id)
    return None if row is None else row[0]


def latest_open_period_days(conn: psycopg.Connection, account_id: int) -> tuple[int, date, date] | None:
    """(id, first day, end day) of the account's latest open billing period."""
    return conn.execute(_LATEST_OPEN_PERIOD_SQL, (account_id,)).fetchone()


def estimate_identity(conn: psycopg.Connection, account_id: int) -> tuple[int, frozenset[int]] | None:
    """(open period, its agreements) of the account as the running estimate must have them: what a
    reader checks a cached estimate against before serving it."""
    period_id = latest_open_period(conn, account_id)
    if period_id is None:
        return None
    rows = conn.execute(_AGREEMENTS_SQL, (int_array([account_id]), int_array([period_id]))).fetchall()
    return period_id, frozenset(r[4] for r in rows)


def open_periods_touched(conn: psycopg.Connection, touched: set[tuple[int, date]]) -> list[tuple[int, int]]:
    """(account, open billing period) pairs that the touched (service point, local day) pairs fall in:
    the account of the agreement in force at the point that day."""
    if not touched:
        return []
    pairs = sorted(touched)
    rows = conn.execute(
        "select distinct a.id, p.id from unnest(%s::int8[], %s::date[]) as t(sp_id, day) "
        "join service_agreements sa on sa.service_point_id = t.sp_id and sa.start_date <= t.day "
        " and (sa.end_date is null or sa.end_date > t.day) join accounts a on a.id = sa.account_id "
        "join billing_periods p on p.billing_cycle_id = a.billing_cycle_id and p.closed_at is null "
        " and t.day >= p.period_start and t.day < p.period_end order by 1, 2",
        ([p[0] for p in pairs], [p[1] for p in pairs])).fetchall()
    return [(r[0], r[1]) for r in rows]


_FOREVER = np.iinfo(np.int64).max
# a day row of an agreement's meter on a day the agreement served, while the meter was installed there
_BLOCK_SERVED = (
    "and b.local_day >= sa.start_date and (sa.end_date is null or b.local_day < sa.end_date) "
    "and am.installed_at < b.day_start + make_interval(secs => b.interval_s * array_length(b.values, 1)) "
    "and (am.removed_at is null or am.removed_at > b.day_start) ")


@dataclass(frozen=True)
class AgreementIntervals:
    service_agreement_id: int
    account_no: str
    unit: str
    power_of_ten: int
    interval_s: int
    starts: np.ndarray  # epoch seconds of every stored interval, sorted
    values: np.ndarray  # delivered, int64 in the meter's unit x 10^power_of_ten
    exported: np.ndarray | None = None  # received on the same grid, where measured
    reactive: np.ndarray | None = None  # reactive energy on the same grid, where measured


def assigned_agreements(conn: psycopg.Connection, tariff_code: str, on_day: date) -> list[int]:
    """Agreements whose tariff assignment in force on ``on_day`` is ``tariff_code``."""
    rows = conn.execute(
        "select sa.id from service_agreements sa join lateral (select tariff_code from tariff_assignments ta "
        " where ta.service_agreement_id = sa.id and ta.effective_from <= %s order by effective_from desc limit 1) t "
        " on true where t.tariff_code = %s order by sa.id", (on_day, tariff_code)).fetchall()
    return [r[0] for r in rows]


def intervals_for(conn: psycopg.Connection, agreement_ids: list[int], first_day: date,
                  end_day: date) -> list[AgreementIntervals]:
    """Stored intervals of each agreement over local days [first_day, end_day): delivered (channel 1)
    and, where the meter also measures it, received (channel 2, e.g. solar export) on the same grid."""
    from storage.pg_binary import parse_arrays

    rows = conn.execute(
        "select am.service_agreement_id, a.account_no, m.unit, m.power_of_ten, m.interval_s, b.channel, "
        "       extract(epoch from b.day_start)::bigint, array_send(b.values), "
        "       extract(epoch from am.installed_at)::bigint, extract(epoch from am.removed_at)::bigint "
        "from agreement_meters am join meters m on m.id = am.meter_id "
        "join service_agreements sa on sa.id = am.service_agreement_id join accounts a on a.id = sa.account_id "
        "join interval_blocks b on b.meter_id = m.id and b.channel in (%s, %s, %s) "
        " and b.local_day >= %s and b.local_day < %s " + _BLOCK_SERVED +
        "where am.service_agreement_id = any(%s) order by am.service_agreement_id, b.channel, b.local_day, "
        "am.installed_at",
        (CONSUMPTION_CHANNEL, EXPORT_CHANNEL, REACTIVE_CHANNEL, first_day, end_day, agreement_ids)).fetchall()
    if not rows:
        return []
    # every day row's slots, end to end: their moments from the row's day start and interval length
    values, present, counts = parse_arrays([r[7] for r in rows])
    day_start = np.array([r[6] for r in rows], np.int64)
    interval = np.array([r[4] for r in rows], np.int64)
    row_offset = np.cumsum(counts) - counts
    row_of_slot = np.repeat(np.arange(len(rows)), counts)
    moments = day_start[row_of_slot] + (np.arange(len(values)) - row_offset[row_of_slot]) * interval[row_of_slot]
    # only what the meter read while installed at the agreement's service point
    installed = np.array([r[8] for r in rows], np.int64)
    removed = np.array([_FOREVER if r[9] is None else r[9] for r in rows], np.int64)
    present = present & (moments >= installed[row_of_slot]) & (moments < removed[row_of_slot])
    result = []
    first_row = 0
    while first_row < len(rows):
        agreement_id = rows[first_row][0]
        end_row = first_row
        by_channel: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        while end_row < len(rows) and rows[end_row][0] == agreement_id:
            channel = rows[end_row][5]
            channel_end = end_row
            while channel_end < len(rows) and rows[channel_end][0] == agreement_id and rows[channel_end][5] == channel:
                channel_end += 1
            low, high = row_offset[end_row], row_offset[channel_end - 1] + counts[channel_end - 1]
            keep = present[low:high]
            channel_moments, channel_values = moments[low:high][keep], values[low:high][keep]
            if len(channel_moments) > 1 and not (np.diff(channel_moments) > 0).all():  # meters exchanged
                order = np.argsort(channel_moments, kind="stable")
                channel_moments, channel_values = channel_moments[order], channel_values[order]
            by_channel[channel] = (channel_moments, channel_values)
            end_row = channel_end
        first = rows[first_row]
        grid = by_channel.get(CONSUMPTION_CHANNEL, (np.zeros(0, np.int64),))[0]
        if len(by_channel) > 1 or CONSUMPTION_CHANNEL not in by_channel:
            for moments_of_channel, _ in by_channel.values():
                grid = np.union1d(grid, moments_of_channel)

        def on_grid(channel: int):
            """The channel's values on the common grid (a moment it lacks reads as zero)."""
            if channel not in by_channel:
                return None
            channel_moments, channel_values = by_channel[channel]
            if channel_moments is grid or len(channel_moments) == len(grid):
                return channel_values
            placed = np.zeros(len(grid), np.int64)
            placed[np.searchsorted(grid, channel_moments)] = channel_values
            return placed
        delivered = on_grid(CONSUMPTION_CHANNEL)
        result.append(AgreementIntervals(agreement_id, first[1], first[2], first[3], first[4], grid,
                                         delivered if delivered is not None else np.zeros(len(grid), np.int64),
                                         on_grid(EXPORT_CHANNEL), on_grid(REACTIVE_CHANNEL)))
        first_row = end_row
    return result


@dataclass(frozen=True)
class HourlyUsage:
    """Day rows of many agreements as columns: ``totals``/``peaks`` are (rows x 24) per wall-clock hour."""

    agreement_ids: list[int]  # the agreements asked for, in order
    row_agreement: np.ndarray  # index into agreement_ids, per row
    day_ordinal: np.ndarray  # days since 1970-01-01, per row
    interval_s: np.ndarray
    totals: np.ndarray
    peaks: np.ndarray


def hourly_for(conn: psycopg.Connection, agreement_ids: list[int], first_day: date, end_day: date) -> HourlyUsage:
    """Hourly sums and peaks of the agreements' consumption over local days [first_day, end_day), read
    as raw arrays and decoded in one NumPy pass."""
    rows = raw_array_cursor(conn).execute(
        "select am.service_agreement_id, b.local_day - date '1970-01-01', b.interval_s, b.hourly_total, b.hourly_peak, "
        "       case when am.installed_at <= b.day_start and (am.removed_at is null or am.removed_at >= b.day_start "
        "            + make_interval(secs => b.interval_s * array_length(b.values, 1))) then null "
        "       else array[extract(epoch from b.day_start), extract(epoch from am.installed_at), "
        "                  coalesce(extract(epoch from am.removed_at), 9e18)]::int8[] end, b.meter_id "
        "from agreement_meters am join service_agreements sa on sa.id = am.service_agreement_id "
        "join interval_blocks b on b.meter_id = am.meter_id and b.channel = %s "
        " and b.local_day >= %s and b.local_day < %s and b.hourly_total is not null " + _BLOCK_SERVED +
        "where am.service_agreement_id = any(%s::int8[])",
        (CONSUMPTION_CHANNEL, first_day, end_day, int_array(agreement_ids))).fetchall()
    position = {agreement: number for number, agreement in enumerate(agreement_ids)}
    # every array is 24 elements: a 20-byte header, then 24 (length, value) pairs
    layout = np.dtype([("header", "V20"), ("cells", [("length", ">i4"), ("value", ">i8")], 24)])

    def matrix(column: int) -> np.ndarray:
        sent = np.frombuffer(b"".join([row[column] for row in rows]), dtype=layout)["cells"]
        if not (sent["length"] == 8).all():
            raise NullHourlySum("hourly sums with a NULL element")
        return sent["value"].astype(np.int64)

    totals = matrix(3) if rows else np.zeros((0, 24), np.int64)
    peaks = matrix(4) if rows else np.zeros((0, 24), np.int64)
    partial = [number for number, row in enumerate(rows) if row[5] is not None]
    if partial:  # a day a meter was installed or removed: only its slots inside the installation
        _partial_hours(conn, rows, partial, totals, peaks)
    return HourlyUsage(
        agreement_ids=agreement_ids,
        row_agreement=np.array([position[r[0]] for r in rows], np.int64),
        day_ordinal=np.array([r[1] for r in rows], np.int64),
        interval_s=np.array([r[2] for r in rows], np.int64),
        totals=totals, peaks=peaks)


def _partial_hours(conn: psycopg.Connection, rows: list, partial: list[int], totals: np.ndarray,
                   peaks: np.ndarray) -> None:
    from meterdata.day_rows import hourly_buckets, wall_clock_hours

    for number in partial:
        day_start, installed, removed = (int(v) for v in parse_array(rows[number][5])[0])
        meter_id, day = rows[number][6], rows[number][1]
        values_bytes, zone = conn.execute(
            "select array_send(b.values), m.zone from interval_blocks b join meters m on m.id = b.meter_id "
            "where b.meter_id = %s and b.channel = %s and b.local_day = date '1970-01-01' + %s",
            (meter_id, CONSUMPTION_CHANNEL, day)).fetchone()
        values, present = parse_array(values_bytes)
        step = int(rows[number][2])
        starts = day_start + np.arange(len(values), dtype=np.int64) * step
        present &= (starts >= installed) & (starts < removed)
        totals[number], peaks[number] = hourly_buckets(values, present,
                                                       wall_clock_hours(zone, day_start, step, len(values)))


def billed_demands(conn: psycopg.Connection, agreement_ids: list[int], codes: list[str], before: date,
                   months: int = 36) -> dict[int, list]:
    """Billed demand (the quantity of demand lines ``codes``) of each agreement's earlier bills, newest
    first, from bills whose periods ended on or before ``before`` within ``months``: a ratchet's history."""
    rows = conn.execute(
        "select l.service_agreement_id, max(l.quantity) from bill_lines l join bills b on b.id = l.bill_id "
        "where l.service_agreement_id = any(%s) and l.code = any(%s) and b.period_end <= %s and b.status = 'issued' "
        "  and b.period_end > %s - make_interval(months => %s) "
        "group by l.service_agreement_id, b.period_end order by l.service_agreement_id, b.period_end desc",
        (agreement_ids, codes, before, before, months)).fetchall()
    found: dict[int, list] = {}
    for agreement_id, demand in rows:
        found.setdefault(agreement_id, []).append(demand)
    return found


def winter_totals(conn: psycopg.Connection, agreement_ids: list[int], before: date) -> dict[int, tuple[int, int]]:
    """(quantity, days with use) of each agreement over the last winter (December to March) that ended
    before ``before``: the basis of sewer charges on winter-average water use."""
    winter_end = date(before.year if before.month > 3 else before.year - 1, 4, 1)
    winter_start = date(winter_end.year - 1, 12, 1)
    rows = conn.execute(
        "select service_agreement_id, sum(quantity), count(distinct local_day) from agreement_usage_daily "
        "where service_agreement_id = any(%s) and channel = %s and local_day >= %s and local_day < %s "
        "group by service_agreement_id", (agreement_ids, CONSUMPTION_CHANNEL, winter_start, winter_end)).fetchall()
    return {r[0]: (int(r[1]), int(r[2])) for r in rows}


def open_account_periods(conn: psycopg.Connection) -> list[tuple[int, int]]:
    """Every (account, open billing period) pair of the account's cycle, in order."""
    return [(r[0], r[1]) for r in conn.execute(
        "select a.id, p.id from accounts a join billing_periods p on p.billing_cycle_id = a.billing_cycle_id "
        "where p.closed_at is null order by 1, 2")]
