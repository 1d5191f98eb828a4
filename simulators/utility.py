"""A seeded synthetic utility: accounts with one to three services (electric, water, gas), their
premises, meters and tariff assignments, on one billing cycle. Deterministic for a given seed."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

import numpy as np

# meter kinds as a head-end reports them: stored integers x 10^power_of_ten in the unit
METER_KINDS = {
    # hard limits: a 200 A, 240 V residential service (48 kW); 600 gal/h (10 gal/min); 400 ft3/h
    "electric": {"unit": "Wh", "power_of_ten": 0, "interval_s": 900, "high_per_hour": 48_000, "tariff": "E-RES"},
    "water": {"unit": "gal", "power_of_ten": -1, "interval_s": 3600, "high_per_hour": 6_000, "tariff": "W-RES"},
    "gas": {"unit": "ft3", "power_of_ten": -1, "interval_s": 3600, "high_per_hour": 4_000, "tariff": "G-RES"},
}
# how many accounts have which services
SERVICE_MIX = (
    (("electric",), 0.45),
    (("electric", "water"), 0.25),
    (("electric", "gas"), 0.15),
    (("electric", "water", "gas"), 0.15),
)


@dataclass(frozen=True)
class Meter:
    meter_no: str
    account_no: str
    service: str
    unit: str
    power_of_ten: int
    interval_s: int
    expected_high_per_hour: int
    tariff_code: str
    scale: float  # the premise's size: multiplies its load shape


@dataclass(frozen=True)
class Account:
    account_no: str
    customer_name: str
    address: str
    services: tuple[str, ...]
    delivery_channel: str = "print"
    email: str | None = None
    billing_entity: str = "default"


# how accounts take their bills, and which billing entity (service area) bills them
DELIVERY_MIX = (("print", 0.6), ("email", 0.25), ("portal", 0.15))
NORTH_SHARE = 0.2


@dataclass
class Utility:
    zone: str
    cycle_code: str
    period_start: date
    period_end: date  # excluded
    accounts: list[Account] = field(default_factory=list)
    meters: list[Meter] = field(default_factory=list)


def make_utility(meters: int = 1000, seed: int = 7, zone: str = "America/Chicago", cycle_code: str = "C01",
                 period_start: date = date(2026, 10, 20), period_end: date = date(2026, 11, 19),
                 water_15_minute_share: float = 0.3, time_of_use_share: float = 0.25) -> Utility:
    rng = np.random.default_rng(seed)
    utility = Utility(zone, cycle_code, period_start, period_end)
    mixes = [m for m, _ in SERVICE_MIX]
    weights = np.array([w for _, w in SERVICE_MIX])
    number = 0
    while len(utility.meters) < meters:
        number += 1
        services = mixes[rng.choice(len(mixes), p=weights / weights.sum())]
        services = services[: meters - len(utility.meters)]
        account_no = f"A{number:07d}"
        channel = DELIVERY_MIX[rng.choice(len(DELIVERY_MIX), p=[w for _, w in DELIVERY_MIX])][0]
        email = f"customer{number}@example.test" if channel != "print" else None
        entity = "north" if rng.random() < NORTH_SHARE else "default"
        utility.accounts.append(Account(account_no, f"Customer {number}", f"{100 + number} Main St", services,
                                        channel, email, entity))
        for service in services:
            kind = METER_KINDS[service]
            interval = kind["interval_s"]
            tariff = kind["tariff"]
            if service == "water" and rng.random() < water_15_minute_share:
                interval = 900
            if service == "electric" and rng.random() < time_of_use_share:
                tariff = "E-TOU"
            utility.meters.append(Meter(
                meter_no=f"{service[0].upper()}{number:07d}", account_no=account_no, service=service,
                unit=kind["unit"], power_of_ten=kind["power_of_ten"], interval_s=interval,
                expected_high_per_hour=kind["high_per_hour"], tariff_code=tariff,
                scale=float(rng.uniform(0.5, 1.6))))
    return utility
