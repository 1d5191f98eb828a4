"""Receivables as Prometheus metrics, read from PostgreSQL when scraped: payments, the payment-exception
queue, deliveries, collections and the receivable balance. Payments and deliveries happen in many
processes (CLI imports, the portal, the scheduler); the database is where they all meet, so a
long-running process (the streams worker) serves these figures from there."""
from __future__ import annotations

import logging
from typing import Callable

import psycopg
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from storage.operations import receivables_figures

log = logging.getLogger(__name__)


class ReceivablesCollector:
    def __init__(self, connect: Callable[[], psycopg.Connection]):
        self._connect = connect

    def collect(self):
        try:
            with self._connect() as conn:
                (payments, received, returned, unmatched, deliveries, undelivered, steps, balance,
                 arrangements) = receivables_figures(conn)
        except psycopg.Error as error:  # a scrape never fails the worker; the figures are just absent
            log.warning("receivables metrics unavailable: %s", error)
            return
        family = CounterMetricFamily("m2c_payments", "Payments taken, by channel", labels=["channel"])
        for channel, count in payments.items():
            family.add_metric([channel], count)
        yield family
        yield CounterMetricFamily("m2c_payments_received_minor_units", "Amount of payments taken, minor units",
                                  value=int(received))
        yield CounterMetricFamily("m2c_payments_returned", "Payments returned by the bank (NSF)", value=returned)
        yield GaugeMetricFamily("m2c_payment_exceptions_open", "Payments waiting in the payment-exception queue",
                                value=unmatched)
        family = CounterMetricFamily("m2c_deliveries", "Bill and notice deliveries, by channel and status",
                                     labels=["channel", "status"])
        for key, count in deliveries.items():
            family.add_metric(key.split("/"), count)
        yield family
        yield GaugeMetricFamily("m2c_bills_undelivered", "Issued bills not delivered yet", value=undelivered)
        family = CounterMetricFamily("m2c_collection_steps", "Delinquency steps taken, by step", labels=["step"])
        for step, count in steps.items():
            family.add_metric([step], count)
        yield family
        yield GaugeMetricFamily("m2c_receivable_balance_minor_units", "Sum of every account's balance, minor units",
                                value=int(balance))
        yield GaugeMetricFamily("m2c_payment_arrangements_active", "Active payment arrangements", value=arrangements)

    def describe(self):
        return []  # collected on scrape only


class OrdersCollector:
    """Service orders as Prometheus metrics, read from PostgreSQL when scraped: how many by kind and
    status, the oldest in progress, those past their due day, and the disconnects a supervisor has yet
    to approve."""

    def __init__(self, connect: Callable[[], psycopg.Connection]):
        self._connect = connect

    def collect(self):
        from datetime import date

        from storage.orders import ACTIVE, counts

        try:
            with self._connect() as conn:
                rows = counts(conn, date.today())
        except psycopg.Error as error:
            log.warning("service order metrics unavailable: %s", error)
            return
        orders = GaugeMetricFamily("m2c_service_orders", "Service orders, by kind and status",
                                   labels=["kind", "status"])
        oldest = GaugeMetricFamily("m2c_service_orders_oldest_age_seconds",
                                   "Age of the oldest service order in progress, by kind and status",
                                   labels=["kind", "status"])
        past_due = GaugeMetricFamily("m2c_service_orders_past_due", "Service orders in progress past their due day",
                                     labels=["kind"])
        late: dict[str, int] = {}
        awaiting = 0
        for kind, status, count, age, overdue in rows:
            orders.add_metric([kind, status], count)
            if status in ACTIVE:
                oldest.add_metric([kind, status], float(age))
                late[kind] = late.get(kind, 0) + overdue
            if kind == "disconnect" and status == "awaiting_approval":
                awaiting = count
        for kind, count in late.items():
            past_due.add_metric([kind], count)
        yield orders
        yield oldest
        yield past_due
        yield GaugeMetricFamily("m2c_disconnects_awaiting_approval",
                                "Disconnect orders for non-payment waiting for a supervisor's approval", value=awaiting)

    def describe(self):
        return []
