from datetime import date, datetime, timezone
from decimal import Decimal

from storage.copy_text import copy_text


def test_values_are_written_as_postgres_reads_them_back():
    rows = [(1, None, True, Decimal("12.500"), date(2026, 1, 2), "tab\there\\ and\nnewline"),
            (datetime(2026, 1, 2, 3, 4, tzinfo=timezone.utc), False, "", -7, "é", Decimal("-0.1"))]
    assert copy_text(rows) == ("1\t\\N\tt\t12.500\t2026-01-02\ttab\\there\\\\ and\\nnewline\n"
                               "2026-01-02T03:04:00+00:00\tf\t\t-7\té\t-0.1\n").encode()
