-- VEE thresholds as data: per service type and, where set, per meter class, each with the day it
-- takes effect; the most specific value in force on a read's day applies (defaults in the code).
alter table meters add column meter_class text;
create table vee_thresholds (
    id             bigserial primary key,
    service        text not null check (service in ('electric', 'water', 'gas')),
    meter_class    text,                      -- null: every meter of the service
    parameter      text not null,
    value          numeric not null check (value >= 0),
    effective_from date not null,
    set_by         text not null default current_user,
    set_at         timestamptz not null default now(),
    reason         text not null
);
create unique index vee_thresholds_one on vee_thresholds (service, coalesce(meter_class, ''), parameter, effective_from);
