"""Swedish working days: weekends, public holidays and the de-facto ones
(midsommarafton, julafton, nyårsafton) do not count."""

import datetime

from django.utils import translation

from cases.workdays import (
    add_working_days,
    day_off_reason,
    holiday_name,
    is_working_day,
    next_working_day,
    working_days_between,
)

D = datetime.date


def test_weekends_and_holidays_are_not_working_days():
    assert is_working_day(D(2026, 6, 18))  # the Thursday before midsommar
    for day_off in (
        D(2026, 6, 19),  # midsommarafton
        D(2026, 6, 20),  # midsommardagen (a Saturday anyway)
        D(2026, 12, 24),  # julafton
        D(2026, 12, 31),  # nyårsafton
        D(2027, 1, 6),  # trettondedag jul
        D(2027, 3, 26),  # långfredagen
        D(2027, 3, 29),  # annandag påsk
        D(2027, 5, 6),  # Kristi himmelsfärdsdag
        D(2026, 11, 28),  # a Saturday
        D(2026, 11, 29),  # a Sunday
    ):
        assert not is_working_day(day_off), day_off
    assert is_working_day(D(2027, 5, 7))  # a "klämdag" is a working day
    assert is_working_day(D(2027, 6, 7))  # nationaldagen fell on a Sunday; no day off in lieu


def test_counting_working_days_skips_days_off():
    assert add_working_days(D(2026, 5, 20), 21) == D(2026, 6, 18)
    assert add_working_days(D(2026, 6, 18), 1) == D(2026, 6, 22)  # over midsommar
    assert add_working_days(D(2026, 6, 22), -1) == D(2026, 6, 18)
    assert add_working_days(D(2026, 12, 23), 1) == D(2026, 12, 28)  # over julafton, juldagen and the weekend
    assert add_working_days(D(2026, 6, 19), 0) == D(2026, 6, 22)
    assert next_working_day(D(2026, 6, 19)) == D(2026, 6, 22)
    assert next_working_day(D(2026, 6, 18)) == D(2026, 6, 18)
    assert working_days_between(D(2026, 6, 15), D(2026, 6, 22)) == 4
    assert working_days_between(D(2026, 6, 22), D(2026, 6, 15)) == 0


def test_days_off_are_named_in_the_language_of_the_page():
    with translation.override("sv"):
        assert holiday_name(D(2026, 6, 19)) == "Midsommarafton"
        assert day_off_reason(D(2026, 11, 28)) == "en lördag"
        assert day_off_reason(D(2026, 6, 18)) is None
    with translation.override("en"):
        assert holiday_name(D(2026, 6, 19)) == "Midsummer Eve"
        assert day_off_reason(D(2026, 11, 29)) == "a Sunday"
