-- Reads that land after a period was billed (late, corrected or replaced) do not change the closed
-- bill: the difference is raised here for staff to cancel and rebill.
create table bill_corrections (
    id               bigserial primary key,
    bill_id          bigint not null unique references bills (id),
    account_id       bigint not null references accounts (id),
    billed_quantity  bigint not null,
    current_quantity bigint not null,
    billed_reads     bigint not null,
    current_reads    bigint not null,
    status           text not null default 'open' check (status in ('open', 'rebilled')),
    detected_at      timestamptz not null default now()
);
