-- Holidays for estimation: a holiday's like days are Sundays (and a Sunday's, holidays).
create table vee_holidays (
    day    date primary key,
    name   text not null,
    set_by text not null default current_user
);
