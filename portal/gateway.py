"""Card payments go through a payment gateway: the browser turns the card into a gateway token and
only that token reaches this system, so no card data is ever stored here. ``TestGateway`` stands in
for a real gateway in tests and the demo; ``configured_gateway`` is the one place a deployment puts
its own (the portal's card payments, autopay in the cycle scheduler and ``m2c autopay run`` use it)."""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class Charge:
    approved: bool
    reference: str  # the gateway's transaction id: the payment's unique reference here
    message: str


class PaymentGateway(Protocol):
    def charge(self, token: str, amount_minor: int, currency: str, idempotency_key: str) -> Charge: ...


class TestGateway:
    """``tok_approved`` is approved, ``tok_declined`` declined, anything else an invalid token. The same
    idempotency key gives the same transaction (a retried request does not charge twice)."""

    __test__ = False  # not a pytest class

    def charge(self, token: str, amount_minor: int, currency: str, idempotency_key: str) -> Charge:
        reference = "test_" + hashlib.sha256(f"{idempotency_key}:{amount_minor}:{currency}".encode()).hexdigest()[:20]
        if token == "tok_approved":
            return Charge(True, reference, "approved")
        if token == "tok_declined":
            return Charge(False, reference, "declined by the card issuer")
        return Charge(False, reference, "invalid payment token")


def configured_gateway(settings) -> PaymentGateway:
    """The deployment's payment gateway: the test gateway until a real one is plugged in here."""
    return TestGateway()
