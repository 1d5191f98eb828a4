-- VEE flags are 32 bits (one per rule; unsigned, so a signed integer cannot hold the top bit): stored
-- flags widen from smallint to bigint, values unchanged
alter table vee_exceptions alter column flags type bigint[] using flags::bigint[];
