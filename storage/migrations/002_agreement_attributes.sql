-- Customer attributes a tariff may depend on (customer_class, meter_size, household_size, lot_area, ...).
alter table service_agreements add column attributes jsonb not null default '{}'::jsonb;
