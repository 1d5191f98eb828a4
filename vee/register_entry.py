"""Register reads keyed in by staff (a final read when service stops): checked as an imported read is,
stored with the meter's register reads, and, for a meter read by hand (one value a day), its
consumption since the read before spread over the days between and merged like any edit of reads
(quality ``prorated from register reads``, each value recorded in ``read_edits``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

import numpy as np
import psycopg

from meterdata.errors import FormatError
from meterdata.formats.registers import DAY, spread
from meterdata.formats.scaling import MeterUnit, Register, to_register
from meterdata.formats.series import PRORATED_FROM_REGISTER, RegisterRead, exact_decimal
from storage import installations, registers
from vee.errors import VeeError
from vee.queue import edit_reads


class RegisterReadRefused(VeeError):
    """A keyed-in register read the meter cannot have: not a number, finer than its resolution, below
    the read before (the code names which), or no meter installed to read."""

    code = "bad_read"


@dataclass(frozen=True)
class EnteredRead:
    """A checked register read and what it adds: the daily values of a hand-read meter since its read
    before."""

    meter_no: str
    meter_id: int
    zone: str
    unit: str
    register: Register
    days: list[tuple[int, int]]  # (day start, epoch seconds; consumption in the meter's resolution)

    def document(self) -> dict:
        return {"meter": self.meter_no, "at": self.register.read_at.isoformat(), "unit": self.unit,
                "value": self.register.value, "daily_reads": len(self.days),
                "spread_quantity": sum(value for _, value in self.days)}


def final_read(conn: psycopg.Connection, premise_id: int, service: str, on: date, value: str) -> EnteredRead:
    """The final read of a stop: the register of the meter installed at the premise's service point at
    the end of the last day served (midnight starting ``on``, the premise's time), ``value`` in the
    meter's unit. Checked, not stored: :func:`enter` stores it."""
    premise = installations.premise(conn, premise_id)
    point_id = installations.service_point(conn, premise_id, service) if premise is not None else None
    moment = datetime.combine(on, time(0), ZoneInfo(premise[2])) if premise is not None else None
    meter = installations.meter_at_point(conn, point_id, moment) if point_id is not None else None
    if meter is None:
        raise RegisterReadRefused(f"no {service} meter is installed at premise {premise_id} on {on} to take a "
                                  f"final read from", code="meter_not_installed")
    return check(conn, meter[0], moment, value)


def check(conn: psycopg.Connection, meter_no: str, moment: datetime, value: str) -> EnteredRead:
    """Meter ``meter_no``'s register read ``value`` (its unit) at ``moment``, checked against its
    resolution and, for a hand-read meter, its read before."""
    try:
        digits, power = exact_decimal(value)
    except FormatError as error:
        raise RegisterReadRefused(f"register read: {error}") from None
    if digits < 0:
        raise RegisterReadRefused(f"register read: a register is never negative ({value})")
    units = registers.meter_units(conn, [meter_no])
    if meter_no not in units:
        raise RegisterReadRefused(f"no meter {meter_no}", code="unknown_meter")
    meter_id, unit, power_of_ten, interval_s, zone = units[meter_no]
    read = RegisterRead(meter_no, 1, unit, power, digits, int(moment.timestamp()), None, 0, 0)
    register = to_register(read, MeterUnit(meter_no, unit, power_of_ten, interval_s, zone))
    if not isinstance(register, Register):
        raise RegisterReadRefused(f"register read: {register.detail}", code=register.reason)
    days: list[tuple[int, int]] = []
    if interval_s == DAY:
        before = registers.last_before(conn, meter_id, 1, register.read_at)
        previous = Register(meter_no, 1, before[0], before[1], before[2]) if before else None
        blocks, problems = spread(previous, [(register, 0)], zone)
        if problems:
            raise RegisterReadRefused(f"register read: {problems[0].detail}", code=problems[0].reason)
        days = [(b.start, int(b.values[0])) for b in blocks]
    return EnteredRead(meter_no, meter_id, zone, unit, register, days)


def enter(conn: psycopg.Connection, entered: EnteredRead, actor: str, reason: str) -> None:
    """Store the checked read and merge the days it spreads, in one transaction."""
    with conn.transaction():
        registers.store(conn, [(entered.meter_id, 1, entered.register.read_at, entered.register.value,
                                entered.register.quality)], f"keyed:{actor}")
        if entered.days:
            edit_reads(conn, entered.meter_id, entered.zone, 1, np.array([d for d, _ in entered.days], np.int64), DAY,
                       np.array([v for _, v in entered.days], np.int64), actor, reason,
                       quality=PRORATED_FROM_REGISTER)

