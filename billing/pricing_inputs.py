"""What pricing an account's period needs beyond its usage rollup: for agreements whose tariff prices
time of use, demand or export, summaries from the day rows' hourly sums where those are exact and
the stored intervals otherwise; and the history look-back charges use."""
from __future__ import annotations

from decimal import Decimal

import numpy as np
import psycopg

from rating.charges import History
from rating.errors import NeedsIntervals
from rating.pricing import segments
from rating.units import unit_factor
from rating.usage import UsageSummary, summarize_hourly
from storage.tariffs import PublishedTariff
from storage.usage import AgreementUsage, billed_demands, hourly_for, intervals_for, winter_totals


def interval_inputs(conn: psycopg.Connection, usages: list[AgreementUsage],
                    tariffs: dict[str, PublishedTariff]) -> tuple[dict[int, UsageSummary], dict]:
    """(summaries from hourly sums, stored intervals) of the agreements whose tariff prices time of use,
    demand or export: hourly where that is exact, intervals for the rest."""
    summaries, rest = hourly_summaries(conn, usages, tariffs)
    return summaries, intervals_needed(conn, rest, tariffs)


def intervals_needed(conn: psycopg.Connection, usages: list[AgreementUsage],
                     tariffs: dict[str, PublishedTariff]) -> dict:
    """Stored intervals of the agreements whose tariff prices time of use, demand or export."""
    wanted = [u for u in usages if u.tariff_code in tariffs and tariffs[u.tariff_code].tariff.needs_intervals]
    if not wanted:
        return {}
    period = wanted[0].period
    return {i.service_agreement_id: i for i in intervals_for(conn, [u.service_agreement_id for u in wanted],
                                                             period.start, period.end)}


def histories(conn: psycopg.Connection, usages: list[AgreementUsage],
               tariffs: dict[str, PublishedTariff]) -> dict[int, History]:
    """What look-back charges need: billed demands of earlier bills (ratchets), last winter's average
    use per period (sewer on winter average)."""
    ratchet_codes: dict[int, list[str]] = {}
    winter: list[AgreementUsage] = []
    look_back = {code: _look_back(published) for code, published in tariffs.items()}
    for usage in usages:
        codes, winter_average = look_back.get(usage.tariff_code or "", ((), False))
        if codes:
            ratchet_codes[usage.service_agreement_id] = list(codes)
        if winter_average:
            winter.append(usage)
    histories: dict[int, History] = {}
    if ratchet_codes:
        period = usages[0].period
        codes = sorted({c for cs in ratchet_codes.values() for c in cs})
        for agreement_id, demands in billed_demands(conn, list(ratchet_codes), codes, period.start).items():
            histories[agreement_id] = History(peak_demands=tuple(demands))
    if winter:
        totals = winter_totals(conn, [u.service_agreement_id for u in winter], winter[0].period.start)
        for usage in winter:
            quantity, days = totals.get(usage.service_agreement_id, (0, 0))
            if not days:
                continue
            tariff = tariffs[usage.tariff_code].tariff
            factor, _ = unit_factor(usage.power_of_ten, usage.unit, tariff.billing_unit)
            average = Decimal(quantity) * factor * usage.period.days / days
            previous = histories.get(usage.service_agreement_id, History())
            histories[usage.service_agreement_id] = History(previous.peak_demands, average)
    return histories


def _look_back(published: PublishedTariff) -> tuple[tuple[str, ...], bool]:
    """(codes of the tariff's ratchet demand charges, whether a charge prices winter-average use)."""
    rules = [rule for version in published.tariff.versions for rule in version.rules]
    return (tuple(r.charge.code for r in rules if getattr(r.charge, "ratchet_percent", None) is not None),
            any(getattr(r.charge, "basis", None) == "winter_average" for r in rules))


def _hourly_is_exact(version, usage: AgreementUsage) -> bool:
    """Day rows keep per-hour sums and largest intervals: enough for hour-granular time of use and
    single-interval demand, not for export netting, export credits or power factor."""
    return version.netting == "none" and not any(
        type(rule.charge).__name__ == "ExportCreditCharge"
        or getattr(rule.charge, "power_factor_target", None) is not None for rule in version.rules)


def hourly_summaries(conn: psycopg.Connection, usages: list[AgreementUsage],
                     tariffs: dict[str, PublishedTariff]) -> tuple[dict[int, UsageSummary], list[AgreementUsage]]:
    """Summaries, from the day rows' hourly sums and peaks, of the agreements billed as one segment for
    the whole period whose tariff prices time of use or demand; returns them and the agreements that
    need their intervals instead."""
    groups: dict = {}
    rest = []
    for usage in usages:
        published = tariffs.get(usage.tariff_code or "")
        if published is None or not published.tariff.needs_intervals:
            continue
        tariff = published.tariff
        first, end = usage.period.start, usage.period.end
        whole = usage.service_from <= first and (usage.service_to is None or usage.service_to >= end)
        parts = segments(tariff, first, end) if whole else []
        if len(parts) == 1 and _hourly_is_exact(parts[0][2], usage):
            groups.setdefault((usage.period, usage.tariff_code), []).append(usage)
        else:
            rest.append(usage)
    found: dict[int, UsageSummary] = {}
    for (period, code), members in groups.items():
        tariff = tariffs[code].tariff
        version = segments(tariff, period.start, period.end)[0][2]
        ids = [u.service_agreement_id for u in members]
        factors = [unit_factor(u.power_of_ten, u.unit, tariff.billing_unit)[0] for u in members]
        hourly = hourly_for(conn, ids, period.start, period.end)
        # day rows written before hourly sums were kept have none: such agreements read their intervals
        hourly_quantity = np.zeros(len(ids), np.int64)
        np.add.at(hourly_quantity, hourly.row_agreement, hourly.totals.sum(axis=1))
        complete = {n for n, u in enumerate(members) if int(hourly_quantity[n]) == u.quantity}
        try:
            summaries = summarize_hourly(len(ids), hourly.row_agreement, hourly.day_ordinal, hourly.interval_s,
                                         hourly.totals, hourly.peaks, factors, version.calendar,
                                         version.demand_window_s)
        except NeedsIntervals:
            rest.extend(members)
            continue
        for number, (usage, summary) in enumerate(zip(members, summaries)):
            if number in complete:
                found[usage.service_agreement_id] = summary
            else:
                rest.append(usage)
    return found, rest
