-- reads a head-end estimated (quality 1) count as estimated on bills, like VEE's (201..299):
-- recount the days that hold any
with days as (
    select distinct m.service_agreement_id, b.channel, b.local_day
    from interval_blocks b join meters m on m.id = b.meter_id
    where 1 = any(b.quality)),
counted as (
    select d.service_agreement_id, d.channel, d.local_day, sum(
               (select count(*) from unnest(b.values, b.quality) as s(v, q)
                where v is not null and (q = 1 or q between 201 and 299))) as n
    from days d join meters m on m.service_agreement_id = d.service_agreement_id
    join interval_blocks b on b.meter_id = m.id and b.channel = d.channel and b.local_day = d.local_day
    group by 1, 2, 3)
update usage_daily u set estimated_count = c.n
from counted c
where c.service_agreement_id = u.service_agreement_id and c.channel = u.channel and c.local_day = u.local_day;
