-- Notices are rendered from the billing entity's templates (cis.notices): the channel a notice goes by when
-- it is not the account's own (a bill-ready e-mail for a portal account), and whether the law or the tariff
-- requires it (then a customer's opt-out does not hold it back).
alter table notices add column channel text check (channel in ('print', 'email', 'portal'));
alter table notices add column required boolean not null default false;
update notices set required = true where kind in ('final_notice', 'disconnect_eligible', 'disconnect_scheduled',
    'disconnected', 'payment_returned', 'arrangement_broken', 'autopay_failed', 'preferences_changed', 'security');
