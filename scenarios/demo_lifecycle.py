"""Customers moving in and out of the simulated utility inside its period, recorded the way a real
utility's desk records them: after the reads. A meter is exchanged at noon (the head-end reports the
new meter's number from then on, before the exchange is keyed); one customer moves out and a new one
moves in after a vacancy; another moves to the premise a third customer left."""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import psycopg

from cis import meters, service
from cis.accounts import NewAccount, open_account
from meterdata.codec import DecodeError, Message, decode, encode_binary
from storage import scenario_checks as checks

WHO = "demo service desk"


@dataclass
class Plan:
    """Who moves when; chosen from the utility so that every action makes sense."""

    exchange_meter: str | None = None
    new_meter: str | None = None
    exchange_at: datetime | None = None
    leaving: str | None = None  # moves out (stop), a new tenant moves in after a vacancy
    left_on: date | None = None
    moves_in_on: date | None = None
    vacated: str | None = None  # moves out early; ``mover`` moves in to that premise later
    vacated_on: date | None = None
    mover: str | None = None
    moves_on: date | None = None


@dataclass
class Recorded:
    exchanges: int = 0
    stops: int = 0
    starts: int = 0
    transfers: int = 0
    new_accounts: list[str] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)


def plan_for(utility) -> Plan:
    """Four single-meter electric accounts (not on time of use) carry the moves."""
    singles = [m for m in utility.meters if m.service == "electric" and m.tariff_code != "E-TOU"
               and sum(1 for o in utility.meters if o.account_no == m.account_no) == 1]
    plan = Plan()
    if len(singles) < 4:
        return plan
    zone, first = ZoneInfo(utility.zone), utility.period_start
    plan.exchange_meter, plan.new_meter = singles[0].meter_no, singles[0].meter_no + "X"
    plan.exchange_at = datetime.combine(first + timedelta(days=13), time(12), zone)
    plan.leaving, plan.left_on, plan.moves_in_on = singles[1].account_no, first + timedelta(days=12), \
        first + timedelta(days=16)
    plan.vacated, plan.vacated_on = singles[2].account_no, first + timedelta(days=8)
    plan.mover, plan.moves_on = singles[3].account_no, first + timedelta(days=20)
    return plan


def rekeyed(messages, plan: Plan):
    """The head-end's messages with the new meter's number from the exchange on (blocks start on the
    hour, so the exchange at noon falls between blocks)."""
    if plan.exchange_meter is None:
        yield from messages
        return
    old, cut = plan.exchange_meter.encode(), int(plan.exchange_at.timestamp())
    for message in messages:
        if message.key == old:
            try:
                block = decode(message.value)
            except DecodeError:  # the head-end's garbage stays garbage
                block = None
            if block is not None and block.start >= cut:
                message = Message(plan.new_meter.encode(), encode_binary(replace(block, meter_id=plan.new_meter)))
        yield message


def record(conn: psycopg.Connection, utility, plan: Plan) -> Recorded:
    """Key the plan's actions, after the reads came."""
    done = Recorded()
    if plan.exchange_meter is None:
        return done
    meters.exchange(conn, plan.exchange_meter, plan.new_meter, plan.exchange_at, WHO, "display failed")
    done.exchanges += 1
    premise_of = checks.premises_of(conn, [plan.leaving, plan.vacated, plan.mover])
    service.stop(conn, plan.leaving, premise_of[plan.leaving], "electric", plan.left_on, WHO, "moved away")
    service.stop(conn, plan.vacated, premise_of[plan.vacated], "electric", plan.vacated_on, WHO, "moved away")
    done.stops += 2
    tariff = next(m.tariff_code for m in utility.meters if m.account_no == plan.leaving)
    tenant = open_account(conn, NewAccount(cycle=utility.cycle_code, name="New Tenant"), WHO, "moving in").account_no
    service.start(conn, service.Start(tenant, premise_of[plan.leaving], "electric", tariff, plan.moves_in_on), WHO,
                  "moving in", today=utility.period_end)
    done.starts += 1
    done.new_accounts.append(tenant)
    service.transfer(conn, plan.mover, premise_of[plan.mover], premise_of[plan.vacated], "electric", plan.moves_on,
                     WHO, "moving across town", today=utility.period_end)
    done.transfers += 1
    done.lines = [
        f"meter exchange         {plan.exchange_meter} -> {plan.new_meter} at {plan.exchange_at:%Y-%m-%d %H:%M}"
        " (keyed after its reads)",
        f"move-out               {plan.leaving} on {plan.left_on}; new tenant {tenant} moves in on {plan.moves_in_on}",
        f"move-out               {plan.vacated} on {plan.vacated_on}; {plan.mover} moves there on {plan.moves_on}",
    ]
    return done
