-- Customer contacts and cases: every interaction logged on the account (channel, reason, notes, who),
-- and the cases that need follow-up (owner, due day, status, what they are about) until they close,
-- when the customer is told by their channel. A bill linked to an open billing dispute is held from
-- collections.
create table contacts (
    id          bigserial primary key,
    account_id  bigint not null references accounts (id),
    channel     text not null check (channel in ('phone', 'email', 'portal', 'walk_in', 'letter', 'field')),
    reason      text not null check (reason in ('billing_question', 'payment', 'high_bill', 'leak', 'outage',
                                                'move', 'dispute', 'service_order', 'complaint', 'other')),
    notes       text not null default '',
    case_id     bigint,
    actor       text not null,
    at          timestamptz not null default now()
);
create index contacts_account on contacts (account_id, at);

create table cases (
    id           bigserial primary key,
    account_id   bigint not null references accounts (id),
    kind         text not null check (kind in ('high_bill', 'leak_report', 'billing_dispute', 'move_request',
                                               'outage', 'other')),
    status       text not null default 'open' check (status in ('open', 'in_progress', 'waiting_customer', 'closed')),
    summary      text not null check (length(trim(summary)) > 0),
    owner        text,
    due_on       date not null,
    resolution   text,
    opened_by    text not null,
    opened_at    timestamptz not null default now(),
    closed_at    timestamptz,
    closed_by    text,
    updated_at   timestamptz not null default now()
);
create index cases_open on cases (status, due_on) where status <> 'closed';
create index cases_account on cases (account_id);
alter table contacts add constraint contacts_case foreign key (case_id) references cases (id);

-- what a case is about: bills, service orders, VEE exceptions
create table case_links (
    case_id   bigint not null references cases (id),
    kind      text not null check (kind in ('bill', 'order', 'exception')),
    ref_id    bigint not null,
    primary key (case_id, kind, ref_id)
);
create index case_links_ref on case_links (kind, ref_id);

create table case_events (
    id         bigserial primary key,
    case_id    bigint not null references cases (id),
    change     text not null,            -- opened, assigned, status, due, note, linked, closed
    details    jsonb not null default '{}',
    actor      text not null,
    reason     text not null,
    at         timestamptz not null default now()
);
create index case_events_case on case_events (case_id, id);

-- a photo a customer sent with a report (a leak, an outage), size-limited by the portal
create table case_attachments (
    id            bigserial primary key,
    case_id       bigint not null references cases (id),
    content_type  text not null check (content_type in ('image/jpeg', 'image/png')),
    data          bytea not null check (length(data) <= 2097152),
    added_at      timestamptz not null default now()
);
create index case_attachments_case on case_attachments (case_id);
