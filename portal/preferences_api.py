"""A customer's own choices in the API: bill delivery, paperless, contact details and the notices they
turn off (``cis.preferences``); the customer of the account or staff. Each change is confirmed to the
customer by a notice."""
from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import account, principal

router = APIRouter(prefix="/api/v1", tags=["customer preferences"])


@router.get("/accounts/{account_no}/preferences")
def show(request: Request, found: tuple[int, str] = Depends(account)) -> dict:
    from cis.preferences import get

    with request.app.state.pool.connection() as conn:
        return get(conn, found[1]).document()


class Change(BaseModel):
    delivery: Literal["print", "email", "portal"] | None = None
    paperless: bool | None = None
    email: str | None = Field(None, max_length=254, description="an empty string removes it")
    phone: str | None = Field(None, max_length=40, description="an empty string removes it")
    notices_off: list[str] | None = Field(None, max_length=20, description="the optional notices not wanted")


@router.put("/accounts/{account_no}/preferences")
def change(request: Request, body: Change, found: tuple[int, str] = Depends(account),
           who: Principal = Depends(principal)) -> dict:
    from cis.preferences import change as apply

    reason = "customer self-service" if not who.is_staff else "changed by staff at the customer's request"
    with request.app.state.pool.connection() as conn:
        after, changed = apply(conn, found[1], who.username, reason, **body.model_dump())
        if changed:
            record(conn, who, "account.preferences", found[1], {"why": reason, "changed": sorted(changed)})
    return {**after.document(), "changed": changed}


class Autopay(BaseModel):
    token: str | None = Field(None, min_length=1, max_length=64,
                              description="the payment gateway's token for the card; null ends autopay")


@router.get("/accounts/{account_no}/autopay")
def autopay_status(request: Request, found: tuple[int, str] = Depends(account)) -> dict:
    """Whether the account's bills are paid automatically, and the latest attempts (paid, declined)."""
    from billing.autopay import status

    with request.app.state.pool.connection() as conn:
        return {"account_no": found[1], **status(conn, found[0])}


@router.put("/accounts/{account_no}/autopay")
def autopay(request: Request, body: Autopay, found: tuple[int, str] = Depends(account),
            who: Principal = Depends(principal)) -> dict:
    from billing.autopay import enroll

    reason = "customer self-service" if not who.is_staff else "changed by staff at the customer's request"
    with request.app.state.pool.connection() as conn:
        enrolled = enroll(conn, found[0], found[1], body.token, who.username, reason)
        record(conn, who, "account.autopay", found[1], {"why": reason, "enrolled": enrolled})
    return {"account_no": found[1], "autopay": enrolled}
