-- Dead letters an operator sent back through the pipeline (m2c dlq replay): who, when and why, once
-- per letter unless asked again; the letter itself stays in its topic.
create table dlq_replays (
    id            bigserial primary key,
    dlq_topic     text not null,
    dlq_partition integer not null,
    dlq_offset    bigint not null,
    reason        text not null,       -- the letter's reason (m2c-reason)
    source        text,                -- topic/partition/offset of the original message
    replayed_to   text not null,       -- the topic it was published to
    actor         text not null,
    why           text not null,
    replayed_at   timestamptz not null default now()
);
create index dlq_replays_letter on dlq_replays (dlq_topic, dlq_partition, dlq_offset);
