-- Staff may ask VEE to estimate the reads an exception held back.
alter table exception_actions drop constraint exception_actions_action_check;
alter table exception_actions add constraint exception_actions_action_check
    check (action in ('accept', 'release', 'override', 'reopen', 'reestimate'));
alter table vee_exceptions drop constraint if exists vee_exceptions_status_check;
