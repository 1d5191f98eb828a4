-- A notice the customer turned off is recorded as not sent, with why (cis.preferences).
alter table deliveries drop constraint deliveries_status_check;
alter table deliveries add constraint deliveries_status_check check (status in ('sent', 'failed', 'suppressed'));

-- a payment arrangement a customer asked for that the entity's rules do not grant at once: staff decide
alter table cases drop constraint cases_kind_check;
alter table cases add constraint cases_kind_check check (kind in ('high_bill', 'leak_report', 'billing_dispute',
    'move_request', 'outage', 'arrangement_request', 'other'));
