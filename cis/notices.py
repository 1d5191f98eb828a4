"""Every notice a customer gets, rendered from the billing entity's templates by channel.

A template is a TOML file per notice kind, ``cis/notice_templates/<entity>/<kind>.toml``; an entity
without its own file for a kind uses ``default/``, and a deployment may put its own folders first
(``M2C_NOTICE_TEMPLATES``). A template says:

- ``title``: what the notice is, as a customer choosing notices reads it;
- ``required``: the law or the tariff requires it, so it is sent whatever the customer turned off;
- ``channels``: how it may go (a payment confirmation is not worth a letter: ``["email", "portal"]``);
- ``subject`` and ``body``, and optionally a text per channel (``print``, ``email``, ``portal``) in
  place of ``body``: Jinja text with the notice's values and ``money(minor)`` in the account's currency.

``send`` renders and stores the notice; :mod:`billing.delivery` delivers it (the delivery and its date
are recorded) unless the customer turned the kind off and it is not required.
"""
from __future__ import annotations

import os
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import jinja2
import psycopg

from cis.errors import CisError
from rating.money import format_minor
from storage import notices as stored

CHANNELS = ("print", "email", "portal")
_FALLBACK = "default"


class NoticeTemplateError(CisError):
    code = "notice_template"


@dataclass(frozen=True)
class Template:
    kind: str
    title: str
    required: bool
    channels: tuple[str, ...]
    texts: dict[str, str]  # subject, body and any per-channel text

    def text(self, channel: str) -> str:
        return self.texts.get(channel, self.texts["body"])


_jinja = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False)


def _folders() -> list[Path]:
    own = os.environ.get("M2C_NOTICE_TEMPLATES")
    packaged = Path(str(resources.files("cis").joinpath("notice_templates")))
    return ([Path(own)] if own else []) + [packaged]


@lru_cache(maxsize=256)
def template(entity: str, kind: str) -> Template:
    """The template for notices of ``kind`` from billing entity ``entity`` (or the default one)."""
    for folder in _folders():
        for name in (entity, _FALLBACK):
            path = folder / name / f"{kind}.toml"
            if path.is_file():
                return _parse(path, kind)
    raise NoticeTemplateError(f"no notice template {kind!r} for billing entity {entity!r}")


def _parse(path: Path, kind: str) -> Template:
    try:
        data = tomllib.loads(path.read_text())
    except (OSError, tomllib.TOMLDecodeError) as error:
        raise NoticeTemplateError(f"{path}: {error}") from None
    problems = [f"{key} missing" for key in ("title", "required", "channels", "subject", "body") if key not in data]
    channels = tuple(data.get("channels", ()))
    problems += [f"channels: unknown {c!r}" for c in channels if c not in CHANNELS]
    problems += [f"{key}: not a channel" for key in data
                 if key not in ("title", "required", "channels", "subject", "body") and key not in CHANNELS]
    if problems or not channels:
        raise NoticeTemplateError(f"{path}: " + "; ".join(problems or ["channels: none"]))
    texts = {key: data[key] for key in ("subject", "body", *CHANNELS) if key in data}
    for key, text in texts.items():
        try:
            _jinja.parse(text)
        except jinja2.TemplateSyntaxError as error:
            raise NoticeTemplateError(f"{path}: {key}: {error}") from None
    return Template(kind, data["title"], bool(data["required"]), channels, texts)


@lru_cache(maxsize=1)
def catalogue() -> dict[str, Template]:
    """Every kind of notice there is (the default templates), by kind."""
    folder = Path(str(resources.files("cis").joinpath("notice_templates"))) / _FALLBACK
    return {path.stem: template(_FALLBACK, path.stem) for path in sorted(folder.glob("*.toml"))}


def optional_kinds() -> dict[str, str]:
    """The notices a customer may turn off: kind -> title."""
    return {kind: t.title for kind, t in catalogue().items() if not t.required}


def required(kind: str) -> bool:
    kinds = catalogue()
    return kind not in kinds or kinds[kind].required  # a kind without a template is never held back


def render(entity: str, currency: str, kind: str, channel: str, values: dict) -> tuple[str, str]:
    """(subject, text) of a notice as it goes by ``channel``."""
    chosen = template(entity, kind)
    context = {**values, "money": lambda minor: f"{format_minor(int(minor), currency)} {currency}"}
    try:
        return (_jinja.from_string(chosen.texts["subject"]).render(context).strip(),
                _jinja.from_string(chosen.text(channel)).render(context).strip())
    except jinja2.UndefinedError as error:
        raise NoticeTemplateError(f"notice {kind!r} ({entity}): {error}") from None


def send(conn: psycopg.Connection, account_id: int, kind: str, values: dict, bill_id: int | None = None,
         once: bool = False) -> int | None:
    """Render and store a notice for the account; returns its id, or None when none of the template's
    channels reaches the account (``once``: nor when the same notice was sent before)."""
    entity, currency, own_channel, has_email = stored.addressee(conn, account_id)
    chosen = template(entity, kind)
    channel = _channel(chosen, own_channel, has_email)
    if channel is None:
        return None
    subject, body = render(entity, currency, kind, channel, values)
    if once and stored.notice_sent(conn, account_id, kind, subject):
        return None
    return stored.create_notice(conn, account_id, kind, subject, body, bill_id,
                                None if channel == own_channel else channel, chosen.required)


def _channel(chosen: Template, own: str, has_email: bool) -> str | None:
    if own == "email" and not has_email:
        own = "print"  # as delivery does with an e-mail account without an address
    if own in chosen.channels:
        return own
    if has_email and "email" in chosen.channels:
        return "email"
    return "portal" if "portal" in chosen.channels else None
