"""Staff API for the customer records: open an account, add a premise. The same ``cis`` workflows as
the command line; a refused request is a problem document with the workflow's code."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import staff

router = APIRouter(prefix="/api/v1/staff", tags=["staff: customer records"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the action")


class OpenAccount(BaseModel):
    cycle: str = Field(min_length=1, max_length=32)
    name: str | None = Field(None, max_length=200, description="a new customer's name")
    customer_id: int | None = Field(None, ge=1, le=2**62, description="or an existing customer")
    kind: Literal["person", "business"] = "person"
    email: str | None = Field(None, max_length=254)
    phone: str | None = Field(None, max_length=40)
    mailing_address: str | None = Field(None, max_length=500)
    delivery: Literal["print", "email", "portal"] = "print"
    paperless: bool = False
    billing_entity: str = Field("default", max_length=64)
    why: str = WHY


@router.post("/accounts", status_code=201)
def open_account(request: Request, body: OpenAccount, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.accounts import NewAccount, open_account as open_

    new = NewAccount(**body.model_dump(exclude={"why"}))
    with request.app.state.pool.connection() as conn:
        opened = open_(conn, new, who.username, body.why)
        record(conn, who, "account.open", opened.account_no, {"why": body.why, "customer_id": opened.customer_id})
    return {"account_no": opened.account_no, "account_id": opened.account_id, "customer_id": opened.customer_id}


class AddPremise(BaseModel):
    address: str = Field(min_length=1, max_length=500)
    zone: str | None = Field(None, max_length=64, description="IANA time zone (default: the utility's)")
    why: str = WHY


@router.post("/premises", status_code=201)
def add_premise(request: Request, body: AddPremise, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.premises import add_premise as add

    zone = body.zone or request.app.state.settings.utility_zone
    with request.app.state.pool.connection() as conn:
        premise_id = add(conn, body.address, zone, who.username, body.why)
        record(conn, who, "premise.add", str(premise_id), {"why": body.why})
    return {"premise_id": premise_id, "zone": zone}
