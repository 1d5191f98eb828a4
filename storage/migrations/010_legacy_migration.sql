-- Migration from a legacy CIS: one recorded job per extract (restartable), the legacy keys of what it
-- created, and the legacy bill history the parallel billing run compares against.
create table migration_runs (
    id          bigserial primary key,
    source      text not null,
    digest      text not null,              -- of the extract's files: the same extract is the same job
    status      text not null check (status in ('running', 'finished', 'failed')),
    steps_done  text[] not null default '{}',
    reads_done  bigint not null default 0,  -- blocks of the read history stored so far
    counts      jsonb not null default '{}'::jsonb,
    error       text,
    started_by  text not null default current_user,
    started_at  timestamptz not null default now(),
    finished_at timestamptz
);
create unique index migration_runs_one_per_extract on migration_runs (digest);

create table migration_keys (
    kind      text not null,                -- premise, account, agreement, meter, opening_balance
    legacy_id text not null,
    new_id    bigint not null,
    run_id    bigint not null references migration_runs (id),
    primary key (kind, legacy_id)
);

create table legacy_bills (
    bill_no             text primary key,
    account_id          bigint not null references accounts (id),
    period_start        date not null,
    period_end          date not null,
    total_minor         bigint not null,
    balance_after_minor bigint not null,
    run_id              bigint not null references migration_runs (id)
);
create index legacy_bills_account on legacy_bills (account_id, period_start);

create table legacy_bill_lines (
    bill_no      text not null references legacy_bills (bill_no),
    line_no      integer not null,
    service      text not null,
    charge_code  text not null,               -- mapped to this system's charge code
    legacy_code  text not null,
    description  text not null,
    amount_minor bigint not null,
    primary key (bill_no, line_no)
);
