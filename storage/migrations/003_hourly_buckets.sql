-- Per local wall-clock hour of each day row: the sum of its intervals and its largest interval.
-- Time-of-use calendars are hour-granular, so running estimates price time of use and demand from
-- these 2 x 24 numbers instead of every interval. Rows written before this migration have none.
alter table interval_blocks add column hourly_total bigint[], add column hourly_peak bigint[];
