-- How many whole-unit digits a meter's register (dial) shows: a register that went down has rolled
-- over at 10^digits units. Unknown (null): a register that went down is an exception for staff.
alter table meters add column register_digits smallint check (register_digits between 1 and 12);
