-- Failed sign-ins (and other guesses) per user name or client address: each further attempt waits
-- longer, and a key that keeps failing is locked for a while (storage/throttle.py).
create table login_throttle (
    scope           text not null check (scope in ('user', 'address')),
    key             text not null,
    failures        integer not null,
    last_failure_at timestamptz not null,
    locked_until    timestamptz,
    primary key (scope, key)
);
