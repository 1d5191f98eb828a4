-- Staff work on VEE exceptions: every action recorded; edited reads keep their old value.
alter table vee_exceptions add column day_rule text;
create unique index vee_exceptions_day_rule on vee_exceptions (meter_id, channel, block_start, day_rule)
    where day_rule is not null;
create index vee_exceptions_meter on vee_exceptions (meter_id, block_start);

create table exception_actions (
    id           bigserial primary key,
    exception_id bigint not null references vee_exceptions (id),
    action       text not null check (action in ('accept', 'release', 'override', 'reopen')),
    actor        text not null,
    reason       text not null,
    details      jsonb not null default '{}'::jsonb,
    acted_at     timestamptz not null default now()
);
create index exception_actions_exception on exception_actions (exception_id);

create table read_edits (
    id             bigserial primary key,
    meter_id       bigint not null references meters (id),
    channel        smallint not null,
    interval_start timestamptz not null,
    old_value      bigint,            -- null: there was no read
    new_value      bigint not null,
    exception_id   bigint references vee_exceptions (id),
    actor          text not null,
    reason         text not null,
    edited_at      timestamptz not null default now()
);
create index read_edits_meter on read_edits (meter_id, interval_start);
