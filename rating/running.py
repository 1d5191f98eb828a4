"""Running bill estimates: bill-to-date and projected end-of-period bill of each account from its
cycle-to-date usage. Pure: the usages and tariffs come from the caller (the streams worker after each
batch, the portal when the cache is cold)."""
from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from decimal import Decimal

from rating.errors import RatingError
from rating.pricing import UsageInput, estimate
from rating.units import unit_factor


def _lines(quote) -> list[dict]:
    return [{"code": line.code, "description": line.description, "quantity": str(line.quantity),
             "unit": line.unit, "price": None if line.price is None else str(line.price),
             "amount_minor": line.amount_minor, "tariff_version": line.tariff_version} for line in quote.lines]


def estimate_bodies(usages: list, tariffs: dict, as_of: datetime,
                    summaries: dict | None = None) -> list[tuple[int, int, dict]]:
    """(account id, version, body), one per account in ``usages`` (agreement usages of an open period,
    as ``storage.usage.usage_for`` reads them; ``tariffs``: code -> published tariff): the account's
    estimate is the sum over its agreements, each listed with its own bill-to-date lines. The version
    is the number of reads behind it, so an older figure never overwrites a newer one."""
    summaries = summaries or {}
    by_account: dict[tuple[int, int], list] = defaultdict(list)
    for usage in usages:
        by_account[(usage.account_id, usage.period.id)].append(usage)
    entries = []
    for (account_id, _), agreements in by_account.items():
        period = agreements[0].period
        last_days = [u.last_day for u in agreements if u.last_day is not None]
        days_elapsed = ((max(last_days) - period.start).days + 1) if last_days else 0
        version = sum(u.read_count for u in agreements)
        account_body = {"account_id": account_id, "period_id": period.id, "period_start": period.start.isoformat(),
                        "period_end": period.end.isoformat(), "currency": agreements[0].currency,
                        "days_elapsed": days_elapsed, "days_in_period": period.days,
                        "bill_to_date_minor": 0, "projected_minor": 0, "services": [], "as_of": as_of.isoformat()}
        for usage in agreements:
            published = tariffs.get(usage.tariff_code or "")
            if published is None:
                account_body["services"].append({"service_agreement_id": usage.service_agreement_id,
                                                 "service": usage.service, "error": "no_tariff"})
                continue
            tariff = published.tariff
            try:
                factor, in_ccf = unit_factor(usage.power_of_ten, usage.unit, tariff.billing_unit)
                quantity = Decimal(usage.quantity) * factor
                summary = summaries.get(usage.service_agreement_id)
                so_far = UsageInput(quantity, in_ccf=in_ccf, summary=summary)
                result = estimate(tariff, period.start, period.end, so_far, days_elapsed, zone=usage.zone,
                                  attributes={k: str(v) for k, v in usage.attributes.items()},
                                  service_from=usage.service_from, service_to=usage.service_to,
                                  use_ends=usage.disconnected_on)
            except RatingError as error:
                account_body["services"].append({"service_agreement_id": usage.service_agreement_id,
                                                 "service": usage.service, "error": error.code})
                continue
            account_body["services"].append({
                "service_agreement_id": usage.service_agreement_id, "service": usage.service,
                "quantity": str(quantity), "unit": "CCF" if in_ccf else tariff.billing_unit, "reads": usage.read_count,
                "bill_to_date_minor": result.bill_to_date.total_minor,
                "projected_minor": result.projected.total_minor,
                "bill_to_date_lines": _lines(result.bill_to_date)})
            account_body["bill_to_date_minor"] += result.bill_to_date.total_minor
            account_body["projected_minor"] += result.projected.total_minor
        entries.append((account_id, version, account_body))
    return entries
