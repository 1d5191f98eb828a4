-- Why each tariff revision was published (the staff workspace asks for it; older revisions have none).
alter table tariff_revisions add column reason text;
