"""Deliver issued bills and notices through each account's channel, and record it.

- print: one batch PDF of every printed document plus a CSV manifest for the print vendor (sequence,
  document, account, name, mailing address, first page, pages);
- email: an HTML message with the PDF attached, through the configured SMTP server (an account
  without an address is printed instead);
- portal: posted to the customer's portal (the portal lists delivered bills and notices).

A bill's delivery date is recorded and starts its payment window: the due date is the delivery
date (in the bill's zone) plus the entity's payment terms. A failed email is recorded and retried
by the next delivery run. Files are written before the database records the delivery, so a crash
in between re-sends (at least once), never loses a bill.
"""
from __future__ import annotations

import csv
import logging
import smtplib
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import psycopg

from billing.entities import Entity
from cis import notices
from cis.preferences import opted_out
from storage.preferences import notice_preferences
from billing.render import Document, add_to_pdf, bill_document, notice_document, pdf_writer, render_html, render_pdf
from storage import deliveries

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class DeliveryConfig:
    output_dir: Path
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    smtp_from: str = "billing@meter2cash.invalid"
    smtp_timeout_s: float = 10.0


@dataclass
class DeliverySummary:
    printed: int = 0
    emailed: int = 0
    portal: int = 0
    failed: int = 0
    suppressed: int = 0  # notices the customer turned off
    print_batch: Path | None = None
    manifest: Path | None = None
    errors: list[str] = field(default_factory=list)


def deliver_pending(conn: psycopg.Connection, entities: dict[str, Entity], config: DeliveryConfig, now: datetime,
                    limit: int = 50_000) -> DeliverySummary:
    conn.autocommit = True
    summary = DeliverySummary()
    pending = deliveries.pending(conn, limit)
    choices = notice_preferences(conn, [number for kind, number, _, _ in pending if kind == "notice"])
    to_print: list[Document] = []
    for kind, number, channel, has_email in pending:
        document = bill_document(conn, number, entities) if kind == "bill" else notice_document(conn, number, entities)
        if kind == "notice" and number in choices and opted_out(choices[number][2], *choices[number][:2]):
            # the customer turned these notices off: recorded as not sent, and why
            _record(conn, document, channel, "suppressed", f"the customer turned off {choices[number][0]} notices", now)
            summary.suppressed += 1
            continue
        if channel == "email" and has_email:
            _email(conn, document, config, now, summary)
        elif channel == "portal":
            _record(conn, document, "portal", "sent", "posted to the customer portal", now)
            summary.portal += 1
            if kind == "bill" and has_email:
                _tell_bill_ready(conn, document, entities, config, now, summary)
        else:
            to_print.append(document)
    if to_print:
        _print_batch(conn, to_print, config, now, summary)
    return summary


def _tell_bill_ready(conn, bill: Document, entities: dict[str, Entity], config: DeliveryConfig, now: datetime,
                     summary: DeliverySummary) -> None:
    """A bill posted to the portal of a customer with an e-mail address: a bill-ready e-mail, now."""
    due = bill.entity.payment_terms_days
    zone = ZoneInfo(bill.context["bill"]["zone"])
    values = {"bill_id": bill.bill_id, "period_start": bill.context["bill"]["period_start"],
              "period_last_day": bill.context["bill"]["period_last_day"],
              "amount_minor": bill.context["bill"]["total_due_minor"],
              "due_on": now.astimezone(zone).date() + timedelta(days=due)}
    notice_id = notices.send(conn, bill.account_id, "bill_ready", values, bill.bill_id)
    if notice_id is None:
        return
    document = notice_document(conn, notice_id, entities)
    kind, required, preferences = notice_preferences(conn, [notice_id])[notice_id]
    if opted_out(preferences, kind, required):
        _record(conn, document, "email", "suppressed", f"the customer turned off {kind} notices", now)
        summary.suppressed += 1
        return
    _email(conn, document, config, now, summary)


def _email(conn, document: Document, config: DeliveryConfig, now: datetime, summary: DeliverySummary) -> None:
    message = EmailMessage()
    message["From"] = config.smtp_from
    message["To"] = document.email
    message["Subject"] = document.subject
    if document.kind == "notice":  # the notice's own text, then who sent it
        message.set_content(f"{document.context['notice']['body']}\n\n{document.entity.name}, {document.entity.phone}")
    else:
        message.set_content(f"{document.subject}\n\nThis message is best viewed as HTML; the PDF is attached.")
    message.add_alternative(render_html(document), subtype="html")
    name = f"bill-{document.bill_id}.pdf" if document.kind == "bill" else f"notice-{document.notice_id}.pdf"
    message.add_attachment(render_pdf(document), maintype="application", subtype="pdf", filename=name)
    try:
        with smtplib.SMTP(config.smtp_host, config.smtp_port, timeout=config.smtp_timeout_s) as smtp:
            smtp.send_message(message)
    except (OSError, smtplib.SMTPException) as error:
        summary.failed += 1
        summary.errors.append(f"{document.kind} {document.bill_id or document.notice_id}: {error}")
        _record(conn, document, "email", "failed", str(error)[:500], None)
        return
    _record(conn, document, "email", "sent", f"to {document.email}", now)
    summary.emailed += 1


def _print_batch(conn, documents: list[Document], config: DeliveryConfig, now: datetime,
                 summary: DeliverySummary) -> None:
    folder = config.output_dir / "print"
    folder.mkdir(parents=True, exist_ok=True)
    name = f"print-{now.strftime('%Y%m%dT%H%M%S')}-{documents[0].kind}{documents[0].bill_id or documents[0].notice_id}"
    pdf = pdf_writer()
    manifest = []
    for sequence, document in enumerate(documents, start=1):
        first_page = pdf.page + 1
        pages = add_to_pdf(pdf, document)
        manifest.append((sequence, document.kind, document.bill_id or document.notice_id, document.account_no,
                         document.customer_name, document.address, first_page, pages))
    pdf_path, manifest_path = folder / f"{name}.pdf", folder / f"{name}.csv"
    pdf.output(str(pdf_path.with_suffix(".pdf.tmp")))
    with open(manifest_path.with_suffix(".csv.tmp"), "w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(("sequence", "document", "number", "account_no", "customer_name", "mailing_address",
                         "first_page", "pages"))
        writer.writerows(manifest)
    pdf_path.with_suffix(".pdf.tmp").rename(pdf_path)
    manifest_path.with_suffix(".csv.tmp").rename(manifest_path)
    for document in documents:
        _record(conn, document, "print", "sent", f"{pdf_path.name}", now)
    summary.printed += len(documents)
    summary.print_batch, summary.manifest = pdf_path, manifest_path


def _record(conn, document: Document, channel: str, status: str, detail: str, delivered_at: datetime | None) -> None:
    with conn.transaction():
        deliveries.record_attempt(conn, document.account_id, document.bill_id if document.kind == "bill" else None,
                                  document.notice_id, channel, status, detail)
        if delivered_at is None:
            return
        if document.kind == "bill":
            zone = ZoneInfo(document.context["bill"]["zone"])
            due = delivered_at.astimezone(zone).date() + timedelta(days=document.entity.payment_terms_days)
            deliveries.bill_delivered(conn, document.bill_id, delivered_at, channel, due)
        else:
            deliveries.notice_delivered(conn, document.notice_id, delivered_at)


def configured_delivery(settings) -> DeliveryConfig:
    """Where a deployment's settings send bills: the output folder and the SMTP relay."""
    return DeliveryConfig(Path(settings.output_dir), settings.smtp_host, settings.smtp_port, settings.smtp_from)
