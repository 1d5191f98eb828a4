"""Bills and notices as documents: the stored bill read back, rendered to HTML by the billing
entity's template, and the same HTML laid out as PDF (one bill, or a print batch of many)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path

import jinja2
import psycopg
from fpdf import FPDF

from billing.errors import UnknownBill
from billing.entities import Entity, entity_for
from rating.money import format_minor
from storage import bill_records as records

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
_FONTS = {"": "DejaVuSans.ttf", "B": "DejaVuSans-Bold.ttf", "I": "DejaVuSans-Oblique.ttf",
          "BI": "DejaVuSans-BoldOblique.ttf"}

_environment = jinja2.Environment(
    loader=jinja2.FileSystemLoader(str(resources.files("billing").joinpath("templates"))),
    autoescape=True, undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)


@dataclass
class Document:
    kind: str  # bill or notice
    account_id: int
    account_no: str
    customer_name: str
    address: str
    entity: Entity
    context: dict
    bill_id: int | None = None
    notice_id: int | None = None
    email: str | None = None
    subject: str = ""


def bill_document(conn: psycopg.Connection, bill_id: int, entities: dict[str, Entity]) -> Document:
    bill = records.bill(conn, bill_id)
    if bill is None:
        raise UnknownBill(f"no bill {bill_id}")
    bill["period_last_day"] = bill["period_end"] - timedelta(days=1)
    bill["issued_on"] = bill["issued_at"].date()
    bill["cancelled_on"] = bill["cancelled_at"].date() if bill["cancelled_at"] else None
    account_no, customer_name, address, entity_code, email, currency = records.addressee(conn, bill["account_id"])
    entity = entity_for(entities, bill["billing_entity"])
    lines = records.bill_lines(conn, bill_id)
    usage = records.bill_usage(conn, bill_id)
    services: dict[int, dict] = {}
    for agreement_id, service, description, quantity, unit, price, amount_minor, tariff_version in lines:
        entry = services.setdefault(agreement_id, {"service": service, "tariff_version": tariff_version, "lines": [],
                                                   "total_minor": 0, "usage_text": "", "estimated_count": 0})
        entry["lines"].append({"description": description, "quantity": _plain(quantity), "unit": unit,
                               "price": str(price) if price is not None else None, "amount_minor": amount_minor})
        entry["total_minor"] += amount_minor
    for agreement_id, entry in services.items():
        if agreement_id in usage:
            quantity, unit, power, reads, estimated = usage[agreement_id]
            entry["usage_text"] = f"{format(Decimal(quantity).scaleb(power).normalize(), ',f')} {unit} from {reads:,} reads"
            entry["estimated_count"] = estimated
    context = {"bill": bill, "services": list(services.values()), "entity": entity,
               "account": {"account_no": account_no, "customer_name": customer_name, "address": address},
               "money": lambda minor: format_minor(minor, currency)}
    subject = f"{entity.name}: your bill {bill_id} for {bill['period_start']} to {bill['period_last_day']}"
    return Document("bill", bill["account_id"], account_no, customer_name, address, entity, context,
                    bill_id=bill_id, email=email, subject=subject)


def notice_document(conn: psycopg.Connection, notice_id: int, entities: dict[str, Entity]) -> Document:
    account_id, kind, subject, body, created_at, bill_id = records.notice(conn, notice_id)
    account_no, customer_name, address, entity_code, email, currency = records.addressee(conn, account_id)
    entity = entity_for(entities, entity_code)
    context = {"notice": {"kind": kind, "subject": subject, "body": body, "created_on": created_at.date()},
               "entity": entity, "account": {"account_no": account_no, "customer_name": customer_name,
                                             "address": address}}
    return Document("notice", account_id, account_no, customer_name, address, entity, context, bill_id=bill_id,
                    notice_id=notice_id, email=email, subject=f"{entity.name}: {subject}")


def _plain(value) -> str:
    text = format(Decimal(value).normalize(), "f") if value is not None else ""
    return text


def render_html(document: Document) -> str:
    name = f"{document.entity.template}/bill.html" if document.kind == "bill" else "_shared/notice.html"
    return _environment.get_template(name).render(**document.context)


def pdf_writer() -> FPDF:
    pdf = FPDF(format="Letter")
    pdf.set_auto_page_break(True, margin=15)
    if (FONT_DIR / _FONTS[""]).exists():
        for style, file in _FONTS.items():
            pdf.add_font("body", style, str(FONT_DIR / file))
        pdf.set_font("body", size=10)
    else:  # without the Unicode font, the core font (Latin-1 only) prints what it can
        pdf.set_font("helvetica", size=10)
    return pdf


def add_to_pdf(pdf: FPDF, document: Document) -> int:
    """Lay the document out from a new page; returns the number of pages it took."""
    first = pdf.page + 1
    pdf.add_page()
    html = render_html(document)
    if pdf.font_family != "body":
        html = html.encode("latin-1", "replace").decode("latin-1")
    pdf.write_html(html, font_family=pdf.font_family)
    return pdf.page - first + 1


def render_pdf(document: Document) -> bytes:
    pdf = pdf_writer()
    add_to_pdf(pdf, document)
    return bytes(pdf.output())
