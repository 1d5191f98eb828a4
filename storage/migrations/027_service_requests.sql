-- A customer's request to stop or move service, kept on its case until staff confirm it (or carried
-- out at once where the billing entity allows).
alter table cases add column request jsonb;
