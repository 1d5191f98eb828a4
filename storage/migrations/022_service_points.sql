-- Records over time: a premise has a service point per service; meters are installed at service
-- points for a time (meter_installations) and agreements serve a service point for days
-- [start_date, end_date). A read belongs to the agreement in force at its meter's service point at
-- the read's time. usage_daily becomes the rollup per service point (what the meters installed there
-- measured inside their installations); an agreement's usage is its service point's on the days it
-- was in force (agreement_usage_daily).
--
-- Conversion: every agreement gets a service point of its own with the agreement's id, so the
-- rollup's keys stay as they are; every meter is installed at its agreement's point from the start
-- of the agreement's first day (until the start of its end day, where it ended).
create table service_points (
    id          bigserial primary key,
    premise_id  bigint not null references premises (id),
    service     text not null check (service in ('electric', 'water', 'gas')),
    state       text not null default 'connected' check (state in ('connected', 'disconnected')),
    created_at  timestamptz not null default now()
);
insert into service_points (id, premise_id, service) select id, premise_id, service from service_agreements;
select setval(pg_get_serial_sequence('service_points', 'id'), coalesce((select max(id) from service_points), 0) + 1, false);
create index service_points_premise on service_points (premise_id, service);

alter table service_agreements add column service_point_id bigint references service_points (id);
update service_agreements set service_point_id = id;
alter table service_agreements alter column service_point_id set not null;
alter table service_agreements add column status text not null default 'active'
    check (status in ('pending', 'active', 'stopped', 'final_billed'));
update service_agreements set status = 'stopped' where end_date is not null;
create index service_agreements_point on service_agreements (service_point_id, start_date);

-- an agreement inserted without a service point gets its premise's point for the service (made if missing)
create function agreement_service_point() returns trigger language plpgsql as $$
begin
    if new.service_point_id is null then
        select id into new.service_point_id from service_points
         where premise_id = new.premise_id and service = new.service order by id limit 1;
        if new.service_point_id is null then
            insert into service_points (premise_id, service) values (new.premise_id, new.service)
            returning id into new.service_point_id;
        end if;
    end if;
    return new;
end $$;
create trigger service_agreements_point before insert on service_agreements
    for each row execute function agreement_service_point();

create table meter_installations (
    id               bigserial primary key,
    meter_id         bigint not null references meters (id),
    service_point_id bigint not null references service_points (id),
    installed_at     timestamptz not null,
    removed_at       timestamptz,                 -- null: still installed
    install_read     bigint,                      -- register read at install, where taken
    removal_read     bigint,                      -- register read at removal, where taken
    created_by       text not null default current_user,
    check (removed_at is null or removed_at > installed_at)
);
create index meter_installations_meter on meter_installations (meter_id, installed_at);
create index meter_installations_point on meter_installations (service_point_id, installed_at);

insert into meter_installations (meter_id, service_point_id, installed_at, removed_at, created_by)
select m.id, sa.id, sa.start_date::timestamp at time zone m.zone, sa.end_date::timestamp at time zone m.zone,
       'migration 022'
from meters m join service_agreements sa on sa.id = m.service_agreement_id;

alter table meters drop column service_agreement_id;

alter table usage_daily rename column service_agreement_id to service_point_id;

-- the meters of each agreement: installations at its service point that overlap its days
create view agreement_meters as
select sa.id as service_agreement_id, i.meter_id, i.id as installation_id, i.installed_at, i.removed_at
from service_agreements sa
join meter_installations i on i.service_point_id = sa.service_point_id
join meters m on m.id = i.meter_id
where i.installed_at < coalesce(sa.end_date::timestamp at time zone m.zone, 'infinity')
  and coalesce(i.removed_at, 'infinity') > sa.start_date::timestamp at time zone m.zone;

-- each agreement's daily usage: its service point's, on the days it was in force
create view agreement_usage_daily as
select sa.id as service_agreement_id, d.channel, d.local_day, d.quantity, d.read_count, d.estimated_count
from service_agreements sa
join usage_daily d on d.service_point_id = sa.service_point_id
 and d.local_day >= sa.start_date and (sa.end_date is null or d.local_day < sa.end_date);

alter table bills drop constraint if exists bills_kind_check;
alter table bills add constraint bills_kind_check check (kind in ('regular', 'rebill', 'final'));
drop index bills_one_per_period;
create unique index bills_one_per_period on bills (account_id, billing_period_id) where status = 'issued' and kind <> 'final';
-- a final bill is of one agreement
alter table bills add column final_agreement_id bigint references service_agreements (id);
create unique index bills_one_final on bills (final_agreement_id) where status = 'issued';

-- the agreement in force at a meter's service point at a moment (null: none, or not installed)
create function agreement_at(meter bigint, moment timestamptz) returns bigint language sql stable as $$
    select sa.id from meter_installations i
    join meters m on m.id = i.meter_id
    join service_agreements sa on sa.service_point_id = i.service_point_id
     and sa.start_date <= (moment at time zone m.zone)::date
     and (sa.end_date is null or sa.end_date > (moment at time zone m.zone)::date)
    where i.meter_id = meter and i.installed_at <= moment and (i.removed_at is null or i.removed_at > moment)
    order by i.installed_at desc limit 1
$$;

-- a cycle's bill run, or the final bills of agreements whose service ended in the period
alter table bill_runs add column kind text not null default 'cycle' check (kind in ('cycle', 'final'));

-- deposits starting service needs (the billing entity's policy): held in the deposit liability ledger
-- account until applied to the final bill or credited back after months of on-time payment
create table deposits (
    id                   bigserial primary key,
    account_id           bigint not null references accounts (id),
    service_agreement_id bigint not null references service_agreements (id),
    amount_minor         bigint not null check (amount_minor >= 0),
    status               text not null check (status in ('held', 'waived', 'applied', 'refunded')),
    reason               text,
    transaction_id       bigint,               -- the ledger transaction that billed it
    created_at           timestamptz not null default now(),
    created_by           text not null,
    settled_at           timestamptz
);
create index deposits_agreement on deposits (service_agreement_id);
create index deposits_held on deposits (account_id) where status = 'held';
