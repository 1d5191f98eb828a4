"""``m2c account show NO --json``: the account as one JSON object, its bills with their lines (the
form other tools read: each bill's ``id``, ``kind``, ``period_start``, ``period_end`` - the days this
bill served, end excluded - ``charges_minor`` and ``lines``)."""
from __future__ import annotations

from storage import accounts
from storage.customer_views import bill_lines
from storage.deposits import account_deposits


def _day(value) -> str | None:
    return None if value is None else value.isoformat()


def account_document(conn, header: tuple, receivable) -> dict:
    account_id, account_no, name, currency, entity, channel, email, cycle, budget, customer_id, paperless = header
    bills = []
    for bill_id, start, end, status, kind, charges, due, due_date, delivered, via, estimated in \
            accounts.account_bills(conn, account_id):
        bills.append({
            "id": bill_id, "kind": kind, "status": status, "period_start": _day(start), "period_end": _day(end),
            "charges_minor": charges, "total_due_minor": due, "due_date": _day(due_date), "estimated": estimated,
            "delivered_at": None if delivered is None else delivered.isoformat(), "delivered_by": via,
            "lines": [{"service": service, "code": code, "description": description, "quantity": str(quantity),
                       "unit": unit, "price": None if price is None else str(price), "amount_minor": amount,
                       "kind": line_kind, "tariff_version": version}
                      for service, code, description, quantity, unit, price, amount, line_kind, version
                      in bill_lines(conn, bill_id)]})
    arrangement = accounts.latest_arrangement(conn, account_id)
    return {
        "account_no": account_no, "customer_id": customer_id, "customer_name": name, "cycle": cycle,
        "billing_entity": entity, "delivery": channel, "email": email, "paperless": paperless, "currency": currency,
        "budget_minor": budget, "balance_minor": receivable.balance_minor, "credit_minor": receivable.credit_minor,
        "services": [{"service": service, "address": address, "tariff": tariff, "meters": (meters or "").split()}
                     for service, address, tariff, meters in accounts.account_services(conn, account_id)],
        "bills": bills,
        "deposits": [{"id": did, "service_agreement_id": agreement, "amount_minor": amount, "status": status,
                      "reason": reason, "billed_at": created.isoformat(),
                      "settled_at": None if settled is None else settled.isoformat()}
                     for did, agreement, amount, status, reason, created, settled
                     in account_deposits(conn, account_id)],
        "open_items": [{"entry_type": i.entry_type, "bill_id": i.bill_id, "amount_minor": i.amount_minor,
                        "open_minor": i.open_minor} for i in receivable.open_items()],
        "payments": [{"id": pid, "received_on": _day(received), "amount_minor": amount, "method": method,
                      "reference": reference, "status": status, "return_reason": returned}
                     for pid, received, amount, method, reference, status, returned
                     in accounts.account_payments(conn, account_id)],
        "notices": [{"id": nid, "created_at": created.isoformat(), "kind": kind, "subject": subject,
                     "delivered": delivered is not None}
                    for nid, created, kind, subject, delivered in accounts.account_notices(conn, account_id)],
        "arrangement": None if arrangement is None else {"id": arrangement[0], "status": arrangement[1],
                                                         "total_minor": arrangement[2], "starts_on": _day(arrangement[3])},
    }
