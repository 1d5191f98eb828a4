from datetime import date

from billing.cycles import add_month, period_containing


def test_monthly_periods_from_the_cycle_start_day():
    assert period_containing(20, date(2026, 11, 28)) == (date(2026, 11, 20), date(2026, 12, 20))
    assert period_containing(20, date(2026, 11, 19)) == (date(2026, 10, 20), date(2026, 11, 20))
    assert period_containing(5, date(2026, 1, 3)) == (date(2025, 12, 5), date(2026, 1, 5))
    assert period_containing(1, date(2026, 12, 31)) == (date(2026, 12, 1), date(2027, 1, 1))
    assert add_month(date(2026, 12, 28)) == date(2027, 1, 28)
