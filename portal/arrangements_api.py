"""A payment arrangement a customer asks for in the portal: granted at once within the billing entity's
rules, the down payment taken through the payment gateway first; otherwise a case for staff, with the
rule that stopped it (``billing.arrangement_requests``)."""
from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import Decimal

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.customer_api import AMOUNT, PaymentRequest, pay
from portal.deps import account, principal
from rating.money import MINOR_UNITS, format_minor

router = APIRouter(prefix="/api/v1", tags=["payment arrangements"])


class ArrangementAsk(BaseModel):
    installments: int = Field(ge=1, le=60)
    down_payment: str = Field(pattern=AMOUNT, description="paid now, in the account's currency, e.g. 40.00")
    token: str = Field(min_length=1, max_length=64, description="the payment gateway's token for the card")
    idempotency_key: str = Field(min_length=8, max_length=64, pattern=r"^[A-Za-z0-9_\-]+$")


@router.post("/accounts/{account_no}/arrangements", status_code=201)
def ask(request: Request, body: ArrangementAsk, target: tuple[int, str] = Depends(account),
        who: Principal = Depends(principal)):
    from billing.arrangement_requests import check, grant
    from billing.entities import entity_for
    from cis.cases import open_case
    from storage.accounts import billing_entity_of
    from storage.dunning import installments as arrangement_installments

    account_id, account_no = target
    now = datetime.now(timezone.utc)
    with request.app.state.pool.connection() as conn:
        entity = entity_for(request.app.state.entities, billing_entity_of(conn, account_id))
        down = int(Decimal(body.down_payment).scaleb(MINOR_UNITS[entity.currency]))
        decision, balance = check(conn, account_id, body.installments, down, entity, now)
        if not decision.granted:
            case = open_case(conn, account_no, "arrangement_request",
                             f"asks for {body.installments} installments with {body.down_payment} down on "
                             f"{format_minor(balance, entity.currency)} {entity.currency}: {decision.why}",
                             who.username, today=date.today(), channel="portal")
            record(conn, who, "arrangement.request", account_no, {"why": decision.why, "case_id": case.id})
            return JSONResponse({"granted": False, "rule": decision.rule, "why": decision.why, "case_id": case.id,
                                 "minimum_down_minor": decision.minimum_down_minor}, status_code=202)
    paid = pay(request, PaymentRequest(amount=body.down_payment, token=body.token,
                                       idempotency_key=body.idempotency_key), target, who)
    with request.app.state.pool.connection() as conn:
        arrangement_id = grant(conn, account_id, body.installments, entity, who.username, now)
        installments = arrangement_installments(conn, arrangement_id)
        record(conn, who, "arrangement.granted", account_no, {"why": "within the entity's rules",
                                                               "arrangement_id": arrangement_id})
    return {"granted": True, "arrangement_id": arrangement_id, "payment_id": paid["payment_id"],
            "installments": [{"number": n, "due_on": d.isoformat(), "amount_minor": a} for n, d, a in installments]}
