"""A customer's own choices on an account: how bills come (print, e-mail or the portal; paperless: no
paper copy), the contact details, and which notices they do not want. Each change is recorded with who
and why and confirmed by a notice that lists it. Notices the law or the tariff requires (final
notices, disconnection, a returned payment, a broken arrangement, this confirmation: their templates
say so, :mod:`cis.notices`) are sent whatever the choice; the others may be turned off (``opted_out``).
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import psycopg

from cis.accounts import delivery_problems
from cis.errors import BadDelivery, BadEmail, CisError, NoEmailForDelivery, UnknownAccount
from config.errors import require_who_and_why
from storage import preferences as stored
from storage.customers import record_event
from cis import notices


class BadPreference(CisError):
    code = "bad_preference"


@dataclass(frozen=True)
class Preferences:
    account_no: str
    delivery: str
    paperless: bool
    email: str | None
    phone: str | None
    opted_out: tuple[str, ...]  # notice kinds turned off

    def document(self) -> dict:
        return {"account_no": self.account_no, "delivery": self.delivery, "paperless": self.paperless,
                "email": self.email, "phone": self.phone, "notices_off": list(self.opted_out),
                "optional_notices": notices.optional_kinds(),
                "required_notices": [k for k, t in notices.catalogue().items() if t.required]}


def get(conn: psycopg.Connection, account_no: str) -> Preferences:
    row = stored.preferences(conn, account_no)
    if row is None:
        raise UnknownAccount(f"no account {account_no}")
    delivery, paperless, email, phone, preferences = row
    return Preferences(account_no, delivery, paperless, email, phone,
                       tuple(sorted(preferences.get("notices_off", []))))


def opted_out(preferences: dict, kind: str, required: bool) -> bool:
    """Whether the customer's ``preferences`` turn off notices of ``kind`` (never a ``required`` one)."""
    return not required and kind in preferences.get("notices_off", [])


def change(conn: psycopg.Connection, account_no: str, actor: str, reason: str, *, delivery: str | None = None,
           paperless: bool | None = None, email: str | None = None, phone: str | None = None,
           notices_off: list[str] | None = None) -> tuple[Preferences, dict]:
    """Apply the given changes (None: unchanged; an empty e-mail or phone removes it); returns the
    preferences after and what changed (before, after). Refused as a whole when one is wrong."""
    require_who_and_why(actor, reason, "a change of preferences needs who and why")
    before = get(conn, account_no)
    after = {"delivery": before.delivery if delivery is None else delivery,
             "paperless": before.paperless if paperless is None else paperless,
             "email": before.email if email is None else (email.strip() or None),
             "phone": before.phone if phone is None else (phone.strip() or None),
             "notices_off": list(before.opted_out) if notices_off is None else sorted(set(notices_off))}
    problems = delivery_problems(after["email"], after["delivery"], after["paperless"])
    if after["email"] is not None and len(after["email"]) > 254:
        problems.append((BadEmail.code, f"{after['email']!r} is not an e-mail address"))
    if problems:  # a delivery that cannot be is said before an address that is not one
        code, message = min(problems, key=lambda problem: problem[0] != BadDelivery.code)
        raise (BadDelivery if code == BadDelivery.code else BadEmail)(message)
    if after["delivery"] == "email" and after["email"] is None:
        raise NoEmailForDelivery("bills by e-mail need an e-mail address")
    if after["phone"] is not None and not re.fullmatch(r"[0-9+() .-]{4,40}", after["phone"]):
        raise BadPreference(f"{after['phone']!r} is not a phone number")
    optional = notices.optional_kinds()
    unknown = [k for k in after["notices_off"] if k not in optional]
    if unknown:
        raise BadPreference(f"these notices cannot be turned off: {', '.join(unknown)} (turn off one of "
                            f"{', '.join(optional)})")
    was = {"delivery": before.delivery, "paperless": before.paperless, "email": before.email, "phone": before.phone,
           "notices_off": list(before.opted_out)}
    changed = {k: {"before": was[k], "after": after[k]} for k in after if after[k] != was[k]}
    if not changed:
        return before, {}
    with conn.transaction():
        account_id = stored.lock_account(conn, account_no)
        stored.update(conn, account_id, after["delivery"], after["paperless"], after["email"], after["phone"],
                      after["notices_off"])
        record_event(conn, "preferences_changed", account_no, changed, actor, reason)
        notices.send(conn, account_id, "preferences_changed",
                     {"changes": "; ".join(_said(k, v) for k, v in changed.items())})
    return get(conn, account_no), changed


def _said(key: str, change: dict) -> str:
    names = {"delivery": "bill delivery", "paperless": "paperless", "email": "e-mail", "phone": "phone",
             "notices_off": "notices turned off"}

    def shown(value) -> str:
        if isinstance(value, bool):
            return "yes" if value else "no"
        if isinstance(value, list):
            titles = notices.optional_kinds()
            return ", ".join(titles.get(v, v) for v in value) or "none"
        return value or "none"

    return f"{names[key]}: {shown(change['before'])} to {shown(change['after'])}"
