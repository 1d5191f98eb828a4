-- Customers: the person or business behind accounts (name, contact methods, communication
-- preferences). Every account belongs to one: existing accounts get a customer of their own (their
-- name, e-mail and mailing address), and so does an account inserted without one. Accounts opened
-- here are numbered from account_numbers. Lifecycle actions are recorded in cis_events with who and why.
create table customers (
    id              bigserial primary key,
    kind            text not null default 'person' check (kind in ('person', 'business')),
    name            text not null check (length(trim(name)) > 0),
    email           text,
    phone           text,
    mailing_address text,
    preferences     jsonb not null default '{}',
    created_at      timestamptz not null default now(),
    created_by      text not null default current_user
);

alter table accounts add column customer_id bigint references customers (id);
alter table accounts add column paperless boolean not null default false;

do $$
declare
    r record;
    made bigint;
begin
    for r in select id, customer_name, email, mailing_address from accounts order by id loop
        insert into customers (name, email, mailing_address, created_by)
        values (r.customer_name, r.email, r.mailing_address, 'migration 021') returning id into made;
        update accounts set customer_id = made where id = r.id;
    end loop;
end $$;

create function account_customer() returns trigger language plpgsql as $$
begin
    if new.customer_id is null then
        insert into customers (name, email, mailing_address)
        values (new.customer_name, new.email, new.mailing_address) returning id into new.customer_id;
    end if;
    return new;
end $$;
create trigger accounts_customer before insert on accounts for each row execute function account_customer();

alter table accounts alter column customer_id set not null;
create index accounts_customer on accounts (customer_id);

create sequence account_numbers;

create table cis_events (
    id       bigserial primary key,
    kind     text not null,               -- account_opened, premise_added, ...
    subject  text not null,               -- what it is about: an account number, a premise id
    details  jsonb not null default '{}',
    actor    text not null,
    reason   text not null,
    at       timestamptz not null default now()
);
create index cis_events_subject on cis_events (subject, at);
