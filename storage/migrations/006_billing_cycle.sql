-- The billing cycle after rating: cycles on a schedule, recorded bill runs, consolidated invoices,
-- cancel/rebill, delivery, payments, collections and payment arrangements.

-- a cycle's periods start on the same day of each month; its bill run waits close_after_days after
-- the period's end for late reads
alter table billing_cycles add column period_start_day smallint not null default 1
    check (period_start_day between 1 and 28);
alter table billing_cycles add column close_after_days smallint not null default 1 check (close_after_days >= 0);

alter table accounts add column billing_entity text not null default 'default';
alter table accounts add column delivery_channel text not null default 'print'
    check (delivery_channel in ('print', 'email', 'portal'));
alter table accounts add column email text;
alter table accounts add column mailing_address text;
-- levelized billing: the customer is billed this amount a period; the difference is deferred and
-- trued up every true-up period
alter table accounts add column budget_amount_minor bigint check (budget_amount_minor > 0);
alter table accounts add column budget_started_on date;

-- estimated reads per day (quality 201..299), kept with the quantity so a bill knows what it priced
alter table usage_daily add column estimated_count integer not null default 0;
update usage_daily d set estimated_count = e.n
from (select m.service_agreement_id, b.channel, b.local_day, sum(
          (select count(*) from unnest(b.values, b.quality) as s(v, q) where v is not null and q between 201 and 299)
      ) as n
      from interval_blocks b join meters m on m.id = b.meter_id
      group by 1, 2, 3) e
where e.service_agreement_id = d.service_agreement_id and e.channel = d.channel and e.local_day = d.local_day
  and e.n > 0;

-- a bill run is a recorded job: one row per account it looked at
alter table bill_runs drop constraint bill_runs_status_check;
alter table bill_runs add constraint bill_runs_status_check
    check (status in ('running', 'finished', 'failed', 'interrupted'));
alter table bill_runs add column requested_by text not null default current_user;
alter table bill_runs add column accounts_failed integer not null default 0;
create table bill_run_accounts (
    bill_run_id bigint not null references bill_runs (id),
    account_id  bigint not null references accounts (id),
    status      text not null check (status in ('billed', 'held', 'failed', 'already_billed')),
    reason      text,
    bill_id     bigint references bills (id),
    primary key (bill_run_id, account_id)
);

-- consolidated invoice: total_minor stays the current charges; the rest is the account's statement
alter table bills add column status text not null default 'issued' check (status in ('issued', 'cancelled'));
alter table bills add column kind text not null default 'regular' check (kind in ('regular', 'rebill'));
alter table bills add column rebill_of bigint references bills (id);
alter table bills add column cancelled_at timestamptz;
alter table bills add column cancelled_by text;
alter table bills add column cancel_reason text;
alter table bills add column estimated boolean not null default false;
alter table bills add column billing_entity text not null default 'default';
alter table bills add column previous_balance_minor bigint not null default 0;
alter table bills add column payments_minor bigint not null default 0;     -- received since the last bill
alter table bills add column adjustments_minor bigint not null default 0;
alter table bills add column fees_minor bigint not null default 0;
alter table bills add column budget_minor bigint not null default 0;       -- levelized-billing deferral
alter table bills add column total_due_minor bigint not null default 0;    -- the account balance at issue
alter table bills add column delivery_channel text;
alter table bills add column delivered_at timestamptz;
alter table bills add column due_date date;                                -- delivery date + payment terms
alter table bills drop constraint bills_account_id_billing_period_id_key;
create unique index bills_one_per_period on bills (account_id, billing_period_id) where status = 'issued';
create index bills_account on bills (account_id, issued_at);
create index bills_undelivered on bills (id) where delivered_at is null and status = 'issued';

alter table bill_lines add column kind text not null default 'charge' check (kind in ('charge', 'true_up'));

-- the usage each service's lines priced
create table bill_usage (
    bill_id              bigint not null references bills (id),
    service_agreement_id bigint not null references service_agreements (id),
    service              text not null,
    quantity             bigint not null,         -- stored units (x 10^power_of_ten of unit)
    unit                 text not null,
    power_of_ten         smallint not null,
    read_count           integer not null,
    estimated_count      integer not null,
    first_day            date not null,
    end_day              date not null,            -- excluded
    primary key (bill_id, service_agreement_id)
);

-- ledger: what each entry belongs to
alter table ledger_entries add column payment_id bigint;
alter table ledger_entries add column memo text;
alter table ledger_entries add column created_by text not null default current_user;
create index ledger_entries_transaction on ledger_entries (transaction_id);

create table payments (
    id               bigserial primary key,
    channel          text not null,                 -- api, cli, lockbox, portal, ...
    reference        text not null,                 -- the bank's or gateway's unique reference
    account_id       bigint references accounts (id),
    account_ref      text,                           -- as the payer wrote it
    invoice_ref      text,
    amount_minor     bigint not null check (amount_minor > 0),
    currency         text not null,
    method           text not null,
    received_on      date not null,
    status           text not null check (status in ('applied', 'unmatched', 'returned')),
    exception_reason text,
    source_file      text,
    source_line      integer,
    returned_at      timestamptz,
    return_reason    text,
    created_at       timestamptz not null default now(),
    unique (channel, reference)
);
create index payments_account on payments (account_id, received_on);
create index payments_unmatched on payments (id) where status = 'unmatched';
alter table ledger_entries add constraint ledger_entries_payment foreign key (payment_id) references payments (id);

create table payment_actions (
    id         bigserial primary key,
    payment_id bigint not null references payments (id),
    action     text not null check (action in ('match', 'return')),
    actor      text not null,
    reason     text not null,
    details    jsonb not null default '{}'::jsonb,
    acted_at   timestamptz not null default now()
);

-- outbound documents (bill notifications, reminders, final notices, ...) and their delivery
create table notices (
    id          bigserial primary key,
    account_id  bigint not null references accounts (id),
    bill_id     bigint references bills (id),
    kind        text not null,
    subject     text not null,
    body        text not null,
    created_at  timestamptz not null default now(),
    delivered_at timestamptz
);
create index notices_account on notices (account_id, created_at);

create table deliveries (
    id          bigserial primary key,
    account_id  bigint not null references accounts (id),
    bill_id     bigint references bills (id),
    notice_id   bigint references notices (id),
    channel     text not null check (channel in ('print', 'email', 'portal')),
    status      text not null check (status in ('sent', 'failed')),
    detail      text,
    attempted_at timestamptz not null default now(),
    check (bill_id is not null or notice_id is not null)
);
create index deliveries_bill on deliveries (bill_id);

-- delinquency: each step once per bill (disconnect eligibility once per bill and service)
create table collection_steps (
    id            bigserial primary key,
    account_id    bigint not null references accounts (id),
    bill_id       bigint not null references bills (id),
    step          text not null check (step in ('late_fee', 'reminder', 'final_notice', 'disconnect_eligible')),
    service       text not null default '',
    business_date date not null,
    amount_minor  bigint not null default 0,       -- past-due amount when the step was taken
    notice_id     bigint references notices (id),
    taken_at      timestamptz not null default now(),
    unique (bill_id, step, service)
);

create table payment_arrangements (
    id            bigserial primary key,
    account_id    bigint not null references accounts (id),
    total_minor   bigint not null check (total_minor > 0),
    starts_on     date not null,
    status        text not null check (status in ('active', 'completed', 'broken', 'cancelled')),
    created_by    text not null,
    reason        text not null,
    created_at    timestamptz not null default now(),
    closed_at     timestamptz
);
create unique index payment_arrangements_one_active on payment_arrangements (account_id) where status = 'active';
create table arrangement_installments (
    arrangement_id bigint not null references payment_arrangements (id),
    number         integer not null,
    due_on         date not null,
    amount_minor   bigint not null check (amount_minor > 0),
    primary key (arrangement_id, number)
);

-- the ledger transaction of a bill's postings (charges, budget deferral, true-up): a statement sums the
-- account's entries between its bill's transaction and the one before
alter table bills add column ledger_transaction_id bigint;
create index bills_account_transaction on bills (account_id, ledger_transaction_id);
create index ledger_entries_account_transaction on ledger_entries (account_id, transaction_id);

-- an estimated bill is trued up on the next bill once its period's reads are actual
alter table bills add column trued_up_by bigint references bills (id);
create index bills_to_true_up on bills (account_id) where estimated and trued_up_by is null and status = 'issued';
