-- Which reading of each interval is stored: per slot, the version of the block it came in (the
-- head-end's own, or its arrival time in epoch ms), as runs of (first slot uint16, version int64),
-- little-endian. A read replaces a stored one only if it holds the slot at least as strongly (staff
-- edit > actual > estimate) and is of the same or a newer version. Rows stored before this have
-- none: their slots count as version 0, so any later reading of the same kind replaces them.
alter table interval_blocks add column versions bytea;
