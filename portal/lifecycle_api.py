"""Staff API for the records over time: install, exchange and remove meters; start, stop and transfer
service; issue final bills. The same ``cis`` and ``billing`` workflows as the command line; a refused
request is a problem document with the workflow's code."""
from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field

from portal.audit import record
from portal.auth import Principal
from portal.deps import staff

router = APIRouter(prefix="/api/v1/staff", tags=["staff: records over time"])
WHY = Field(min_length=3, max_length=500, description="why: kept with the action")
Service = Literal["electric", "water", "gas"]


class InstallMeter(BaseModel):
    meter: str = Field(min_length=1, max_length=64)
    premise_id: int = Field(ge=1, le=2**62)
    service: Service
    unit: str = Field(min_length=1, max_length=8)
    interval_s: int = Field(ge=1, le=86_400)
    power_of_ten: int = Field(0, ge=-12, le=12)
    at: datetime = Field(description="when, with its UTC offset")
    read: int | None = Field(None, description="the register read at install")
    why: str = WHY


@router.post("/meters/install", status_code=201)
def install_meter(request: Request, body: InstallMeter, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.meters import MeterSpec, install

    spec = MeterSpec(body.meter, body.service, body.unit, body.interval_s, body.power_of_ten)
    with request.app.state.pool.connection() as conn:
        done = install(conn, spec, body.premise_id, body.at, who.username, body.why, body.read)
        record(conn, who, "meter.install", body.meter, {"why": body.why, "premise_id": body.premise_id})
    return done.document()


class ExchangeMeter(BaseModel):
    old: str = Field(min_length=1, max_length=64)
    new: str = Field(min_length=1, max_length=64)
    at: datetime
    removal_read: int | None = None
    install_read: int | None = None
    why: str = WHY


@router.post("/meters/exchange", status_code=201)
def exchange_meter(request: Request, body: ExchangeMeter, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.meters import exchange

    with request.app.state.pool.connection() as conn:
        removed, installed = exchange(conn, body.old, body.new, body.at, who.username, body.why, body.removal_read,
                                      body.install_read)
        record(conn, who, "meter.exchange", body.old, {"why": body.why, "new": body.new})
    return {"old": removed.document(), "new": installed.document()}


class RemoveMeter(BaseModel):
    meter: str = Field(min_length=1, max_length=64)
    at: datetime
    removal_read: int | None = None
    why: str = WHY


@router.post("/meters/remove")
def remove_meter(request: Request, body: RemoveMeter, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.meters import remove

    with request.app.state.pool.connection() as conn:
        done = remove(conn, body.meter, body.at, who.username, body.why, body.removal_read)
        record(conn, who, "meter.remove", body.meter, {"why": body.why})
    return done.document()


class StartService(BaseModel):
    account_no: str = Field(min_length=1, max_length=32)
    premise_id: int = Field(ge=1, le=2**62)
    service: Service
    tariff: str = Field(min_length=1, max_length=64)
    on: date = Field(description="first day served")
    attributes: dict[str, str] = Field(default_factory=dict, max_length=20)
    waive_deposit: str | None = Field(None, min_length=3, max_length=500, description="waive the deposit: why")
    why: str = WHY


@router.post("/service/start", status_code=201)
def start_service(request: Request, body: StartService, who: Principal = Depends(staff("clerk"))) -> dict:
    from datetime import timezone

    from billing.deposits import charge_deposit
    from billing.entities import configured_entities
    from cis.service import Start, start

    with request.app.state.pool.connection() as conn:
        started = start(conn, Start(body.account_no, body.premise_id, body.service, body.tariff, body.on,
                                    body.attributes), who.username, body.why)
        deposit = charge_deposit(conn, body.account_no, started.agreement_id, body.service,
                                 configured_entities(request.app.state.settings), who.username, body.why,
                                 datetime.now(timezone.utc), waive=body.waive_deposit)
        record(conn, who, "service.start", body.account_no, {"why": body.why, "agreement_id": started.agreement_id,
                                                              "deposit": deposit.status})
    return {"agreement_id": started.agreement_id, "service_point_id": started.service_point_id,
            "status": started.status, "connect_needed": started.connect_needed,
            "connect_order_id": started.connect_order_id,
            "deposit": deposit.document()}


class StopService(BaseModel):
    account_no: str = Field(min_length=1, max_length=32)
    premise_id: int = Field(ge=1, le=2**62)
    service: Service
    on: date = Field(description="first day no longer served")
    to_premise_id: int | None = Field(None, ge=1, le=2**62, description="a transfer: the premise moved to")
    tariff: str | None = Field(None, max_length=64, description="a transfer: the new premise's (default: the same)")
    final_read: str | None = Field(None, max_length=32, pattern=r"^\s*\d+(\.\d+)?\s*$",
                                   description="the meter's register at the end of the last day served, in its "
                                               "unit (a meter read by hand is billed to here)")
    why: str = WHY


@router.post("/service/stop")
def stop_service(request: Request, body: StopService, who: Principal = Depends(staff("clerk"))) -> dict:
    from cis.service import stop, transfer
    from vee import register_entry

    with request.app.state.pool.connection() as conn:
        read = None if body.final_read is None else register_entry.final_read(
            conn, body.premise_id, body.service, body.on, body.final_read)
        fact = read and read.document()
        with conn.transaction():
            if body.to_premise_id is None:
                stopped = stop(conn, body.account_no, body.premise_id, body.service, body.on, who.username, body.why,
                               fact)
                started = None
            else:
                stopped, started = transfer(conn, body.account_no, body.premise_id, body.to_premise_id, body.service,
                                            body.on, who.username, body.why, body.tariff, final_read=fact)
            if read is not None:
                register_entry.enter(conn, read, who.username, body.why)
        record(conn, who, "service.transfer" if started else "service.stop", body.account_no,
               {"why": body.why, "agreement_id": stopped.agreement_id, **({"final_read": fact} if fact else {})})
    return {"agreement_id": stopped.agreement_id, "last_day": stopped.last_day.isoformat(),
            "started_agreement_id": None if started is None else started.agreement_id, "final_read": fact}


@router.post("/bills/final")
def final_bills(request: Request, who: Principal = Depends(staff("supervisor"))) -> dict:
    from billing.entities import configured_entities
    from billing.final_bills import BILLED, issue_final_bills
    from storage.tariffs import current_tariffs

    with request.app.state.pool.connection() as conn:
        outcomes = issue_final_bills(conn, current_tariffs(conn), configured_entities(request.app.state.settings),
                                     requested_by=who.username)
        record(conn, who, "bills.final", "final", {"issued": sum(o.status == BILLED for o in outcomes)})
    return {"final_bills": [o.document() for o in outcomes]}
