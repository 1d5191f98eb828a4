-- Autopay: an account's stored payment-gateway token pays each bill on its due day; every attempt is
-- recorded (one per bill), and a declined one tells the customer.
create table autopay_enrollments (
    account_id   bigint primary key references accounts (id),
    token        text not null check (length(token) between 1 and 64),
    active       boolean not null default true,
    enrolled_at  timestamptz not null default now(),
    enrolled_by  text not null,
    ended_at     timestamptz
);

create table autopay_attempts (
    bill_id      bigint primary key references bills (id),
    account_id   bigint not null references accounts (id),
    amount_minor bigint not null check (amount_minor > 0),
    status       text not null check (status in ('approved', 'declined')),
    reference    text not null,
    message      text not null,
    payment_id   bigint references payments (id),
    attempted_at timestamptz not null default now()
);
