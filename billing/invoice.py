"""One consolidated invoice per account: a line per charge per service, and its ledger postings."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from rating.charges import History
from rating.errors import RatingError
from rating.pricing import PricedLine, UsageInput, rate
from rating.units import unit_factor
from storage.tariffs import PublishedTariff
from rating.usage import IntervalData
from storage.usage import AgreementIntervals, AgreementUsage

RECEIVABLE = "receivable"


@dataclass
class ServiceCharges:
    service_agreement_id: int
    service: str
    tariff_revision_id: int
    lines: tuple[PricedLine, ...]


@dataclass
class AccountBill:
    account_id: int
    services: list[ServiceCharges] = field(default_factory=list)
    hold_reason: str | None = None

    @property
    def total_minor(self) -> int:
        return sum(line.amount_minor for s in self.services for line in s.lines)

    def line_rows(self) -> list[tuple]:
        """(service_agreement_id, service, code, description, quantity, unit, price, amount, amount_minor,
        tariff_version, tariff_revision_id) per line, in bill order."""
        return [(s.service_agreement_id, s.service, line.code, line.description, line.quantity, line.unit,
                 line.price, line.amount, line.amount_minor, line.tariff_version, s.tariff_revision_id)
                for s in self.services for line in s.lines]

    def ledger_postings(self) -> list[tuple[str, int]]:
        """Debit the receivable, credit revenue per service: the postings sum to zero."""
        postings = [(RECEIVABLE, self.total_minor)]
        for service in self.services:
            postings.append((f"revenue:{service.service}", -sum(line.amount_minor for line in service.lines)))
        return postings


def build_account_bill(account_id: int, usages: list[AgreementUsage], tariffs: dict[str, PublishedTariff],
                       intervals: dict[int, AgreementIntervals] | None = None,
                       histories: dict[int, History] | None = None) -> AccountBill:
    """Price every agreement of the account for the whole period; an account that cannot be priced
    in full is held with the reason, never billed in part. ``intervals`` holds the stored intervals
    of agreements whose tariff prices time of use, demand or export."""
    bill = AccountBill(account_id)
    if not usages:
        bill.hold_reason = "no_service_agreements"
        return bill
    for usage in usages:
        published = tariffs.get(usage.tariff_code or "")
        if published is None:
            bill.hold_reason = f"no_tariff:{usage.service}:{usage.tariff_code}"
            return bill
        tariff = published.tariff
        try:
            factor, in_ccf = unit_factor(usage.power_of_ten, usage.unit, tariff.billing_unit)
            stored = (intervals or {}).get(usage.service_agreement_id)
            if stored is not None:
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
                                            quote.lines))
    return bill
