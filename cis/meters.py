"""Install, exchange and remove meters at a premise's service points.

A meter is at one service point at a time, and a service point has one meter at a time; an
installation runs from a moment to a moment (an exchange at noon splits that day's intervals between
the two meters). Recording an installation after reads arrived — an exchange keyed two days late —
rolls the affected stored days up again (:func:`storage.attribution.reattribute`), so the bills come
out as if it had been recorded first."""
from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

import numpy as np
import psycopg

from cis.errors import (BadDate, BadMeter, BadService, MeterInstalled, NotInstalled, PointOccupied,
                        PointUnitMismatch, UnknownMeter, UnknownPremise)
from config.errors import require_who_and_why
from storage import installations as stored
from meterdata.day_rows import group_days
from storage.attribution import held_for_unknown_meter, lock_for_change, reattribute, resolve_exceptions
from storage.schema import PartitionManager
from storage.reads import store_batch
from storage.customers import record_event

SERVICES = ("electric", "water", "gas")
UNITS = {"electric": ("Wh",), "water": ("gal", "ft3"), "gas": ("ft3",)}
# the hard limit per hour of a new meter, in its unit, unless given (VEE's "high" rule)
HIGH_PER_HOUR = {"electric": 50_000, "water": 2_000, "gas": 1_000}
UNKNOWN_METER_FLAG = 128  # vee.rules: the reads of a meter not in the directory


@dataclass(frozen=True)
class MeterSpec:
    """A meter as a device: what it measures and how."""

    meter_no: str
    service: str
    unit: str
    interval_s: int
    power_of_ten: int = 0
    register_digits: int | None = None
    meter_class: str | None = None
    high_per_hour: int | None = None  # in the unit (x 10^power_of_ten as stored); None: the service's default


@dataclass(frozen=True)
class Installed:
    meter_no: str
    meter_id: int
    service_point_id: int
    installation_id: int
    at: datetime
    rolled_up_days: int  # stored days rolled up again because reads had arrived before the record
    held_reads_stored: int = 0  # reads that came before the meter was in the directory, stored now

    def document(self) -> dict:
        """As the command line (``--json``) and the staff API give it."""
        return {"meter": self.meter_no, "meter_id": self.meter_id, "service_point_id": self.service_point_id,
                "installation_id": self.installation_id, "at": self.at.isoformat(),
                "rolled_up_days": self.rolled_up_days, "held_reads_stored": self.held_reads_stored}


def check_spec(spec: MeterSpec) -> list[tuple[str, str]]:
    """Every problem of the meter as (code, message)."""
    problems = []
    if not spec.meter_no.strip():
        problems.append((BadMeter.code, "a meter needs a number"))
    if spec.service not in SERVICES:
        problems.append((BadService.code, f"a service is one of {SERVICES}, not {spec.service!r}"))
    elif spec.unit not in UNITS[spec.service]:
        problems.append((BadMeter.code, f"a {spec.service} meter measures in {' or '.join(UNITS[spec.service])}, "
                                        f"not {spec.unit!r}"))
    if not 60 <= spec.interval_s <= 86_400 or 86_400 % spec.interval_s:
        problems.append((BadMeter.code, f"an interval of {spec.interval_s} s does not divide a day"))
    if not -6 <= spec.power_of_ten <= 6:
        problems.append((BadMeter.code, f"a power of ten from -6 to 6, not {spec.power_of_ten}"))
    if spec.register_digits is not None and not 1 <= spec.register_digits <= 12:
        problems.append((BadMeter.code, "register digits from 1 to 12"))
    return problems


def check_moment(at: datetime) -> None:
    if at.tzinfo is None:
        raise BadDate(f"{at.isoformat()} has no UTC offset: give one (e.g. {at.isoformat()}-05:00)")


def _refuse(problems: list[tuple[str, str]]) -> None:
    if problems:
        errors = {BadMeter.code: BadMeter, BadService.code: BadService}
        raise errors[problems[0][0]]("; ".join(message for _, message in problems))


def install(conn: psycopg.Connection, spec: MeterSpec, premise_id: int, at: datetime, actor: str, reason: str,
            read: int | None = None) -> Installed:
    """Install the meter (made when new) at the premise's service point for its service from ``at``."""
    require_who_and_why(actor, reason, "installing a meter needs who and why")
    check_moment(at)
    _refuse(check_spec(spec))
    with conn.transaction():
        lock_for_change(conn)
        found = stored.premise(conn, premise_id)
        if found is None:
            raise UnknownPremise(f"no premise {premise_id} (see m2c premises add)")
        meter_id = _meter_for(conn, spec, zone=found[2])
        point_id = stored.service_point(conn, premise_id, spec.service, make=True)
        installed = _install_at(conn, meter_id, spec.meter_no, point_id, at, read, actor)
        record_event(conn, "meter_installed", spec.meter_no,
                     {"premise_id": premise_id, "service_point_id": point_id, "at": at.isoformat(), "read": read},
                     actor, reason)
    return installed


def exchange(conn: psycopg.Connection, old_no: str, new: MeterSpec | str, at: datetime, actor: str, reason: str,
             removal_read: int | None = None, install_read: int | None = None) -> tuple[Installed, Installed]:
    """Remove ``old_no`` at ``at`` and install the new meter at its service point from the same moment;
    ``new`` as a number takes the old meter's service, unit, interval and power of ten. Returns
    (the old meter's ended installation, the new one's)."""
    require_who_and_why(actor, reason, "exchanging a meter needs who and why")
    check_moment(at)
    with conn.transaction():
        lock_for_change(conn)
        old = _known(conn, old_no)
        if isinstance(new, str):
            new = replace(_spec(old_no, old), meter_no=new)
        elif new.high_per_hour is None:
            new = replace(new, high_per_hour=old[6] if new.unit == old[2] and new.power_of_ten == old[3] else None)
        _refuse(check_spec(new))
        if new.service != old[1]:
            raise BadMeter(f"{old_no} is a {old[1]} meter: its replacement cannot be {new.service}")
        removed = _remove(conn, old[0], old_no, at, removal_read)
        new_id = _meter_for(conn, new, zone=old[5])
        installed = _install_at(conn, new_id, new.meter_no, removed.service_point_id, at, install_read, actor)
        record_event(conn, "meter_exchanged", old_no,
                     {"new_meter": new.meter_no, "service_point_id": removed.service_point_id, "at": at.isoformat(),
                      "removal_read": removal_read, "install_read": install_read}, actor, reason)
    return removed, installed


def remove(conn: psycopg.Connection, meter_no: str, at: datetime, actor: str, reason: str,
           read: int | None = None) -> Installed:
    """End the meter's installation at ``at`` (its later reads are stored and raised, not billed)."""
    require_who_and_why(actor, reason, "removing a meter needs who and why")
    check_moment(at)
    with conn.transaction():
        lock_for_change(conn)
        removed = _remove(conn, _known(conn, meter_no)[0], meter_no, at, read)
        record_event(conn, "meter_removed", meter_no,
                     {"service_point_id": removed.service_point_id, "at": at.isoformat(), "read": read}, actor, reason)
    return removed


def spec_of(conn: psycopg.Connection, meter_no: str) -> MeterSpec:
    """The meter as a device, as recorded."""
    return _spec(meter_no, _known(conn, meter_no))


def _known(conn: psycopg.Connection, meter_no: str) -> tuple:
    found = stored.meter(conn, meter_no)
    if found is None:
        raise UnknownMeter(f"no meter {meter_no}")
    return found


def _spec(meter_no: str, row: tuple) -> MeterSpec:
    _, service, unit, power, interval_s, _, high, digits, meter_class = row
    return MeterSpec(meter_no, service, unit, interval_s, power, digits, meter_class, high)


def _meter_for(conn: psycopg.Connection, spec: MeterSpec, zone: str) -> int:
    found = stored.meter(conn, spec.meter_no)
    if found is None:
        high = spec.high_per_hour if spec.high_per_hour is not None else \
            max(1, HIGH_PER_HOUR[spec.service] // 10 ** spec.power_of_ten if spec.power_of_ten >= 0
                else HIGH_PER_HOUR[spec.service] * 10 ** -spec.power_of_ten)
        return stored.insert_meter(conn, spec.meter_no, spec.service, spec.unit, spec.power_of_ten, spec.interval_s,
                                   high, zone, spec.register_digits, spec.meter_class)
    meter_id, service, unit, power, interval_s = found[:5]
    if (service, unit, power, interval_s) != (spec.service, spec.unit, spec.power_of_ten, spec.interval_s):
        raise BadMeter(f"meter {spec.meter_no} is a {service} meter in {unit} x 10^{power} every {interval_s} s; "
                       f"it cannot be installed as {spec.service} in {spec.unit} x 10^{spec.power_of_ten} "
                       f"every {spec.interval_s} s")
    return meter_id


def _install_at(conn: psycopg.Connection, meter_id: int, meter_no: str, point_id: int, at: datetime,
                read: int | None, actor: str) -> Installed:
    for _, _, installed_at, removed_at in stored.installations(conn, meter_id):
        if removed_at is None or removed_at > at:
            raise MeterInstalled(f"meter {meter_no} is installed from {installed_at.isoformat()}"
                                 + ("" if removed_at is None else f" to {removed_at.isoformat()}")
                                 + ": remove or exchange it first")
    counted = stored.point_units(conn, point_id, meter_id)
    mine = stored.meter(conn, meter_no)
    if counted is not None and (counted[1], counted[2]) != (mine[2], mine[3]):
        raise PointUnitMismatch(f"service point {point_id} counts in {counted[1]} x 10^{counted[2]} (meter "
                                f"{counted[0]}); meter {meter_no} in {mine[2]} x 10^{mine[3]} would mix units in its "
                                f"rollups: give it the same unit and power of ten")
    occupied = stored.installed_at_point(conn, point_id, at)
    if occupied:
        number, since = occupied[0]
        raise PointOccupied(f"meter {number} is installed at service point {point_id} from {since.isoformat()}: "
                            f"exchange it (m2c meters exchange {number} {meter_no} --at ...)")
    installation_id = stored.insert_installation(conn, meter_id, point_id, at, read, actor)
    replayed = _store_held_reads(conn, meter_id, meter_no)
    days = reattribute(conn, meter_id, at)
    return Installed(meter_no, meter_id, point_id, installation_id, at, len(days), replayed)


def _store_held_reads(conn: psycopg.Connection, meter_id: int, meter_no: str) -> int:
    """Reads that came before the meter was in the directory (held in ``unknown_meter`` exceptions)
    are stored now, through the same merge as streamed reads (actual quality; their version is when
    they were held), and the exceptions resolved. Returns how many reads were stored."""
    held = held_for_unknown_meter(conn, meter_no)
    if not held:
        return 0
    zone = stored.meter(conn, meter_no)[5]
    moments, values, channels, steps, versions = [], [], [], [], []
    for _, channel, start, step, block_values, flags, version in held:
        for slot, (value, flag) in enumerate(zip(block_values, flags)):
            if flag & ~UNKNOWN_METER_FLAG or value is None:
                continue  # another rule flagged it: it stays held
            moments.append(start + slot * step)
            values.append(value)
            channels.append(channel)
            steps.append(step)
            versions.append(version)
    if moments:
        count = len(moments)
        rows = group_days(np.full(count, meter_id, np.int64), np.array(channels, np.int16),
                          np.array(moments, np.int64), np.array(steps, np.int32), np.zeros(count, np.int64), [zone],
                          np.array(values, np.int64), np.zeros(count, np.int16), np.array(versions, np.int64))
        PartitionManager(conn).ensure(conn, {rows.local_day(r) for r in range(len(rows))})
        store_batch(conn, rows, [], meter_numbers={meter_id: meter_no})
    resolve_exceptions(conn, [h[0] for h in held])
    return len(moments)


def _remove(conn: psycopg.Connection, meter_id: int, meter_no: str, at: datetime, read: int | None) -> Installed:
    current = [i for i in stored.installations(conn, meter_id) if i[3] is None]
    if not current:
        raise NotInstalled(f"meter {meter_no} is not installed")
    installation_id, point_id, installed_at, _ = current[-1]
    if at <= installed_at:
        raise BadDate(f"meter {meter_no} was installed at {installed_at.isoformat()}: it cannot be removed "
                      f"at {at.isoformat()}")
    stored.end_installation(conn, installation_id, at, read)
    days = reattribute(conn, meter_id, at)
    return Installed(meter_no, meter_id, point_id, installation_id, at, len(days))
