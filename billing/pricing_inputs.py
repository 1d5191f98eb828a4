"""What pricing an account's period needs beyond its usage rollup: the stored intervals of agreements
whose tariff prices time of use, demand or export, and the history look-back charges use."""
from __future__ import annotations

from decimal import Decimal

import psycopg

from rating.charges import History
from rating.units import unit_factor
from storage.tariffs import PublishedTariff
from storage.usage import AgreementUsage, billed_demands, intervals_for, winter_totals


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
    for usage in usages:
        published = tariffs.get(usage.tariff_code or "")
        if published is None:
            continue
        rules = [rule for version in published.tariff.versions for rule in version.rules]
        codes = [r.charge.code for r in rules if getattr(r.charge, "ratchet_percent", None) is not None]
        if codes:
            ratchet_codes[usage.service_agreement_id] = codes
        if any(getattr(r.charge, "basis", None) == "winter_average" for r in rules):
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
