-- A notice the customer turned off is recorded as not sent, with why (cis.preferences).
alter table deliveries drop constraint deliveries_status_check;
alter table deliveries add constraint deliveries_status_check check (status in ('sent', 'failed', 'suppressed'));
