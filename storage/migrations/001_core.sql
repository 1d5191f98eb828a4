-- Core CIS records, tariffs, usage rollups, VEE exceptions, bills and the AR ledger.
-- interval_blocks is created by storage/schema.py: a hypertable with TimescaleDB, native range
-- partitions without it.

create table billing_cycles (
    id          bigserial primary key,
    code        text not null unique,
    zone        text not null
);

create table billing_periods (
    id               bigserial primary key,
    billing_cycle_id bigint not null references billing_cycles (id),
    period_start     date not null,          -- first local day billed
    period_end       date not null,          -- first local day of the next period (excluded)
    closed_at        timestamptz,
    unique (billing_cycle_id, period_start),
    check (period_end > period_start)
);

create table accounts (
    id               bigserial primary key,
    account_no       text not null unique,
    customer_name    text not null,
    billing_cycle_id bigint not null references billing_cycles (id),
    zone             text not null,
    currency         text not null default 'USD',
    created_at       timestamptz not null default now()
);

create table premises (
    id       bigserial primary key,
    address  text not null,
    zone     text not null
);

create table service_agreements (
    id          bigserial primary key,
    account_id  bigint not null references accounts (id),
    premise_id  bigint not null references premises (id),
    service     text not null check (service in ('electric', 'water', 'gas')),
    start_date  date not null,
    end_date    date,
    unique (account_id, premise_id, service, start_date)
);
create index service_agreements_account on service_agreements (account_id);

create table meters (
    id                     bigserial primary key,
    meter_no               text not null unique,
    service_agreement_id   bigint not null references service_agreements (id),
    service                text not null check (service in ('electric', 'water', 'gas')),
    unit                   text not null,        -- Wh, gal, ft3
    power_of_ten           smallint not null,    -- stored value x 10^power_of_ten = quantity in unit
    interval_s             integer not null,
    expected_low_per_hour  bigint not null default 0,
    expected_high_per_hour bigint not null,
    zone                   text not null
);
create index meters_service_agreement on meters (service_agreement_id);

create table tariff_revisions (
    id            bigserial primary key,
    code          text not null,
    service       text not null,
    document      text not null,                 -- the TOML as published
    digest        text not null,
    published_at  timestamptz not null default now(),
    published_by  text not null default current_user,
    unique (code, digest)
);

create table tariff_assignments (
    service_agreement_id bigint not null references service_agreements (id),
    effective_from       date not null,
    tariff_code          text not null,
    primary key (service_agreement_id, effective_from)
);

-- daily usage per service agreement and channel, kept by deltas in the transaction that merges
-- interval blocks: the authoritative input of bill runs
create table usage_daily (
    service_agreement_id bigint not null,
    channel              smallint not null,
    local_day            date not null,
    quantity             bigint not null,
    read_count           integer not null,
    primary key (service_agreement_id, channel, local_day)
);

create table vee_exceptions (
    id               bigserial primary key,
    meter_no         text not null,
    meter_id         bigint,
    channel          smallint not null,
    block_start      timestamptz not null,
    interval_s       integer not null,
    rules            text[] not null,
    severity         text not null check (severity in ('information', 'issue', 'blocks_billing')),
    flagged_count    integer not null,
    values           bigint[] not null,
    flags            smallint[] not null,
    status           text not null default 'open',
    source_topic     text,
    source_partition integer,
    source_offset    bigint,
    created_at       timestamptz not null default now(),
    unique (source_topic, source_partition, source_offset)
);
create index vee_exceptions_open on vee_exceptions (status, created_at);

create table bill_runs (
    id                bigserial primary key,
    billing_period_id bigint not null references billing_periods (id),
    status            text not null check (status in ('running', 'finished', 'failed')),
    started_at        timestamptz not null default now(),
    finished_at       timestamptz,
    accounts_billed   integer not null default 0,
    accounts_skipped  integer not null default 0,
    total_minor       bigint not null default 0,
    error             text
);

create table bills (
    id                bigserial primary key,
    account_id        bigint not null references accounts (id),
    billing_period_id bigint not null references billing_periods (id),
    bill_run_id       bigint not null references bill_runs (id),
    period_start      date not null,
    period_end        date not null,
    zone              text not null,
    currency          text not null,
    total_minor       bigint not null,
    issued_at         timestamptz not null,
    unique (account_id, billing_period_id)
);

create table bill_lines (
    id                   bigserial primary key,
    bill_id              bigint not null references bills (id),
    line_no              integer not null,
    service_agreement_id bigint not null references service_agreements (id),
    service              text not null,
    code                 text not null,
    description          text not null,
    quantity             numeric not null,
    unit                 text not null,
    price                numeric,
    amount_precise       numeric(40, 15) not null,
    amount_minor         bigint not null,
    tariff_version       text not null,
    tariff_revision_id   bigint not null references tariff_revisions (id),
    unique (bill_id, line_no)
);

-- double-entry AR ledger: immutable rows, debit positive and credit negative; every transaction
-- sums to zero
create table ledger_entries (
    id             bigserial primary key,
    transaction_id bigint not null,
    account_id     bigint not null references accounts (id),
    ledger_account text not null,
    amount_minor   bigint not null,
    entry_type     text not null,
    bill_id        bigint references bills (id),
    posted_at      timestamptz not null
);
create sequence ledger_transaction_ids;
create index ledger_entries_account on ledger_entries (account_id);

create function ledger_entries_immutable() returns trigger language plpgsql as $$
begin
    raise exception 'ledger entries are immutable: post a reversing entry instead';
end $$;
create trigger ledger_entries_no_change before update or delete on ledger_entries
    for each row execute function ledger_entries_immutable();
