-- Service orders: field work at a service point (connect, disconnect for non-payment, reconnect, meter
-- exchange, meter test / investigate, read on demand), each with a status, a due day, its completion
-- data and every change with who and why. A service point's state (connected / disconnected) is kept
-- from the orders completed there.
alter table service_points add column state_since timestamptz;

create table service_orders (
    id                   bigserial primary key,
    kind                 text not null check (kind in ('connect', 'disconnect', 'reconnect', 'meter_exchange',
                                                       'investigate', 'read_on_demand')),
    status               text not null check (status in ('awaiting_approval', 'open', 'scheduled', 'dispatched',
                                                         'completed', 'cancelled', 'failed')),
    service_point_id     bigint not null references service_points (id),
    account_id           bigint references accounts (id),
    bill_id              bigint references bills (id),      -- a disconnect for non-payment: the past-due bill
    due_on               date not null,
    scheduled_for        date,
    fee_minor            bigint not null default 0,         -- a reconnect: the entity's fee, billed when ordered
    details              jsonb not null default '{}',       -- a meter exchange: the new meter
    reason               text not null,
    source               text not null,                     -- staff, collections, payment, lifecycle, portal
    field_reference      text,                              -- what the field-work system calls it
    completed_at         timestamptz,
    completion           jsonb,                             -- reads, notes, what the completion changed
    created_at           timestamptz not null default now(),
    created_by           text not null,
    updated_at           timestamptz not null default now()
);
-- one order of a kind in progress at a service point at a time
create unique index service_orders_one_open on service_orders (service_point_id, kind)
    where status in ('awaiting_approval', 'open', 'scheduled', 'dispatched');
create index service_orders_status on service_orders (status, due_on);
create index service_orders_account on service_orders (account_id);

create table service_order_events (
    id          bigserial primary key,
    order_id    bigint not null references service_orders (id),
    status      text not null,         -- the status after the change
    actor       text not null,
    reason      text not null,
    details     jsonb not null default '{}',
    at          timestamptz not null default now()
);
create index service_order_events_order on service_order_events (order_id, id);

-- what the field-work system was sent (the recording gateway: no device integration)
create table field_work_requests (
    id          bigserial primary key,
    order_id    bigint not null references service_orders (id),
    action      text not null check (action in ('schedule', 'dispatch', 'cancel')),
    payload     jsonb not null,
    reference   text not null,
    at          timestamptz not null default now()
);

-- protected customers are never ordered for disconnection: a medical need certified until a day
alter table customers add column medical_need_until date;
