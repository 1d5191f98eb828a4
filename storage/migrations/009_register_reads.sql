-- Register (dial) reads as head-ends and meter readers report them: the cumulative index of a meter
-- channel at a moment, in the meter's resolution. Kept beside the interval data for the register
-- sum check and for meters read by hand.
create table register_reads (
    meter_id    bigint not null references meters (id),
    channel     smallint not null,
    read_at     timestamptz not null,
    value       bigint not null,
    quality     smallint not null default 0,
    source      text not null,
    imported_at timestamptz not null default now(),
    primary key (meter_id, channel, read_at)
);
