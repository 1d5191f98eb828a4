-- The deployment's identity: a random id made once, the namespace of its Redis keys (two databases
-- sharing one Redis never read each other's estimates).
create table deployment (
    id         uuid primary key default gen_random_uuid(),
    one_row    boolean not null default true unique check (one_row),
    created_at timestamptz not null default now()
);
insert into deployment default values;
