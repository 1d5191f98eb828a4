-- The self-service portal and staff API: users (customers and staff roles), their accounts, sessions
-- (only token hashes are stored), the audit log of staff actions, customers' alert settings.
create table portal_users (
    id            bigserial primary key,
    username      text not null unique check (length(username) between 3 and 64),
    password_hash text not null,                  -- scrypt$n$r$p$salt$hash
    role          text not null check (role in ('customer', 'clerk', 'supervisor', 'admin')),
    disabled      boolean not null default false,
    created_at    timestamptz not null default now()
);

create table portal_user_accounts (
    user_id    bigint not null references portal_users (id),
    account_id bigint not null references accounts (id),
    primary key (user_id, account_id)
);
create index portal_user_accounts_account on portal_user_accounts (account_id);

create table portal_sessions (
    token_hash  text primary key,                 -- sha256 of the bearer token / cookie
    user_id     bigint not null references portal_users (id),
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null
);
create index portal_sessions_user on portal_sessions (user_id);

create table portal_audit (
    id        bigserial primary key,
    user_id   bigint references portal_users (id),
    username  text not null,
    action    text not null,
    target    text,
    details   jsonb not null default '{}'::jsonb,
    at        timestamptz not null default now()
);
create index portal_audit_at on portal_audit (at);

create table portal_alerts (
    account_id      bigint primary key references accounts (id),
    high_usage      boolean not null default false,
    high_usage_minor bigint check (high_usage_minor > 0),  -- alert when the projected bill passes this
    leak            boolean not null default false,
    updated_at      timestamptz not null default now()
);
