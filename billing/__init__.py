"""Billing cycles, bill runs, invoices and the accounts-receivable ledger."""
