"""Consumption of meters read by hand or on AMR routes: the change of the register between two reads,
spread over the local days between them (whole days, the remainder on the first days so the sum is
exact), as daily interval blocks with quality ``PRORATED_FROM_REGISTER``. Pure."""
from __future__ import annotations

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from meterdata.codec import Block
from meterdata.formats.scaling import Register
from meterdata.formats.series import PRORATED_FROM_REGISTER, Rejected

DAY = 86400


def spread(previous: Register | None, reads: list[tuple[Register, int]], zone: str) -> tuple[list[Block], list[Rejected]]:
    """Daily blocks from consecutive register reads of one meter channel. ``previous``: the last read
    stored before these; ``reads``: (read, line in its file). A read on the same local day as the one
    before it waits for the next; a register that went down is rejected (a rollover or a misread is
    for staff to resolve)."""
    info = ZoneInfo(zone)
    blocks: list[Block] = []
    rejected: list[Rejected] = []
    ordered = sorted(reads, key=lambda item: item[0].read_at)
    last = previous
    for read, line in ordered:
        if last is None:
            last = read
            continue
        delta = read.value - last.value
        if delta < 0:
            rejected.append(Rejected(line, "register_backwards",
                                     f"{read.meter_no}: {read.value} at {read.read_at:%Y-%m-%d %H:%M} is below "
                                     f"{last.value} at {last.read_at:%Y-%m-%d %H:%M} (rollover or misread)"))
            continue
        first_day = last.read_at.astimezone(info).date()
        end_day = read.read_at.astimezone(info).date()
        days = (end_day - first_day).days
        if days <= 0:
            continue
        base, extra = divmod(delta, days)
        for offset in range(days):
            day = first_day + timedelta(days=offset)
            start = int(datetime.combine(day, time(0), info).timestamp())
            blocks.append(Block(read.meter_no, read.channel, start, DAY,
                                np.array([base + (offset < extra)], np.int64),
                                np.array([PRORATED_FROM_REGISTER], np.uint8)))
        last = read
    return blocks, rejected
