"""One consolidated invoice per account: a line per charge per service, and its ledger postings."""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from billing.ledger import RECEIVABLE, balanced, revenue
from rating.charges import History
from rating.errors import RatingError
from rating.pricing import PricedLine, UsageInput, rate
from rating.units import unit_factor
from storage.tariffs import PublishedTariff
from rating.usage import IntervalData, UsageSummary
from storage.usage import AgreementIntervals, AgreementUsage


@dataclass
class ServiceCharges:
    service_agreement_id: int
    service: str
    tariff_revision_id: int
    lines: tuple[PricedLine, ...]
    usage: AgreementUsage | None = None
    kind: str = "charge"  # or "true_up": the difference an earlier estimated bill owes now its reads are actual
    trues_up: int | None = None  # the estimated bill a true-up settles


@dataclass
class AccountBill:
    account_id: int
    services: list[ServiceCharges] = field(default_factory=list)
    hold_reason: str | None = None

    @property
    def estimated(self) -> bool:
        """Some of the usage priced was estimated by VEE."""
        return any(s.usage is not None and s.usage.estimated_count > 0 for s in self.services)

    def usage_rows(self) -> list[tuple]:
        """(service_agreement_id, service, quantity, unit, power_of_ten, read_count, estimated_count,
        first_day, end_day) per service: the usage each service's lines priced."""
        return [(s.service_agreement_id, s.service, u.quantity, u.unit, u.power_of_ten, u.read_count,
                 u.estimated_count, *active_days(u)) for s in self.services if (u := s.usage) is not None]

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for s in self.services for line in s.lines)  # a few lines: cheap

    def line_rows(self) -> list[tuple]:
        """(service_agreement_id, service, code, description, quantity, unit, price, amount, amount_minor,
        tariff_version, tariff_revision_id, kind) per line, in bill order."""
        return [(s.service_agreement_id, s.service, line.code, line.description, line.quantity, line.unit,
                 line.price, line.amount, line.amount_minor, line.tariff_version, s.tariff_revision_id, s.kind)
                for s in self.services for line in s.lines]

    def trued_up(self) -> list[int]:
        return sorted({s.trues_up for s in self.services if s.trues_up is not None})

    def ledger_postings(self) -> list[tuple[str, int]]:
        """Debit the receivable, credit revenue per service: the postings sum to zero."""
        charges = [(revenue(service.service), sum(line.amount_minor for line in service.lines))
                   for service in self.services]
        return balanced([(RECEIVABLE, sum(amount for _, amount in charges))]
                        + [(account, -amount) for account, amount in charges])


def active_days(usage: AgreementUsage) -> tuple[date, date]:
    """The local days [first, end) of the period the agreement was in service."""
    first = max(usage.period.start, usage.service_from)
    end = min(usage.period.end, usage.service_to) if usage.service_to else usage.period.end
    return first, max(first, end)


def expected_reads(usage: AgreementUsage) -> int:
    """Intervals in the agreement's days of service, counted in its zone (DST days are 23 or 25 h); where
    its service point's meter was exchanged for one of another interval length, per installation."""
    if usage.expected_reads is not None:
        return usage.expected_reads
    if not usage.interval_s:
        return 0
    return _local_seconds(*active_days(usage), usage.zone) // usage.interval_s


@lru_cache(maxsize=1024)
def _local_seconds(first: date, end: date, zone: str) -> int:
    """Seconds from local midnight of ``first`` to local midnight of ``end``: a bill run asks for the same
    few periods of a zone again and again."""
    tz = ZoneInfo(zone)
    return int(datetime.combine(end, time(), tz).timestamp() - datetime.combine(first, time(), tz).timestamp())


def build_account_bill(account_id: int, usages: list[AgreementUsage], tariffs: dict[str, PublishedTariff],
                       intervals: dict[int, AgreementIntervals] | None = None,
                       histories: dict[int, History] | None = None,
                       allow_estimated: bool = True,
                       summaries: dict[int, UsageSummary] | None = None) -> AccountBill:
    """Price every agreement of the account for the whole period; an account that cannot be priced
    in full is held with the reason, never billed in part: a tariff missing, reads missing after
    estimation, or estimated reads where the billing entity does not bill estimates. ``intervals``
    holds the stored intervals of agreements whose tariff prices time of use, demand or export, unless
    ``summaries`` has their period's summary already (from the day rows' hourly sums)."""
    bill = AccountBill(account_id)
    if not usages:
        bill.hold_reason = "no_service_agreements"
        return bill
    for usage in usages:
        missing = expected_reads(usage) - usage.read_count
        if missing > 0:
            bill.hold_reason = f"missing_reads:{usage.service}:{missing}"
            return bill
        if usage.estimated_count and not allow_estimated:
            bill.hold_reason = f"estimated_reads:{usage.service}:{usage.estimated_count}"
            return bill
        published = tariffs.get(usage.tariff_code or "")
        if published is None:
            bill.hold_reason = f"no_tariff:{usage.service}:{usage.tariff_code}"
            return bill
        tariff = published.tariff
        try:
            factor, in_ccf = unit_factor(usage.power_of_ten, usage.unit, tariff.billing_unit)
            stored = (intervals or {}).get(usage.service_agreement_id)
            summary = (summaries or {}).get(usage.service_agreement_id)
            if summary is not None:
                priced = UsageInput(Decimal(usage.quantity) * factor, summary=summary, in_ccf=in_ccf)
            elif stored is not None:
                data = IntervalData(stored.starts, stored.interval_s, stored.values, stored.exported, stored.reactive)
                priced = UsageInput(intervals=data, factor=factor, in_ccf=in_ccf)
            else:
                priced = UsageInput(Decimal(usage.quantity) * factor, in_ccf=in_ccf)
            quote = rate(tariff, usage.period.start, usage.period.end, priced, zone=usage.zone,
                         attributes={k: str(v) for k, v in usage.attributes.items()},
                         service_from=usage.service_from, service_to=usage.service_to,
                         history=(histories or {}).get(usage.service_agreement_id))
        except RatingError as error:
            bill.hold_reason = f"{error.code}:{usage.service}"
            return bill
        bill.services.append(ServiceCharges(usage.service_agreement_id, usage.service, published.revision_id,
                                            quote.lines, usage))
    return bill
