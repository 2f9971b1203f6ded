"""Swedish working days (arbetsdagar): Monday to Friday, except public
holidays and the days Sweden treats as holidays in practice (midsommarafton,
julafton, nyårsafton), from the maintained ``holidays`` library.

Due dates are counted in working days and never fall on a day off; reminders
and escalations are sent on working days only. Every such rule reads this
module, so a change of calendar is made once."""

import datetime
import functools

import holidays
from django.utils import translation
from django.utils.translation import gettext as _

COUNTRY = "SE"
# "public": the holidays of the law (lagen om allmänna helgdagar); "de_facto":
# midsommarafton, julafton and nyårsafton, which offices close for as well.
CATEGORIES = ("public", "de_facto")


@functools.cache
def _days_off(year: int, language: str = "sv") -> dict:
    """{date: name} of the holidays of ``year`` (Sundays are weekend days
    here, not listed as holidays as the library would by default)."""
    calendar = holidays.country_holidays(
        COUNTRY, years=year, categories=CATEGORIES, include_sundays=False, language=language
    )
    return dict(calendar.items())


def holiday_name(day: datetime.date) -> str | None:
    """The name of the holiday on ``day`` in the active language (e.g.
    "Midsommarafton", "Midsummer Eve"), or None."""
    language = "sv" if (translation.get_language() or "sv").startswith("sv") else "en_US"
    return _days_off(day.year, language).get(day)


def is_working_day(day: datetime.date) -> bool:
    return day.weekday() < 5 and day not in _days_off(day.year)


def next_working_day(day: datetime.date) -> datetime.date:
    """``day`` itself when it is a working day, else the first working day after it."""
    while not is_working_day(day):
        day += datetime.timedelta(days=1)
    return day


def add_working_days(day: datetime.date, count: int) -> datetime.date:
    """The ``count``-th working day after ``day`` (``count`` ≥ 0; with 0, the
    next working day from ``day`` on). Backwards with a negative ``count``."""
    step = datetime.timedelta(days=1 if count >= 0 else -1)
    if count == 0:
        return next_working_day(day)
    remaining = abs(count)
    while remaining:
        day += step
        if is_working_day(day):
            remaining -= 1
    return day


def working_days_between(start: datetime.date, end: datetime.date) -> int:
    """How many working days come after ``start`` up to and including ``end``
    (0 when ``end`` ≤ ``start``)."""
    count = 0
    day = start
    while day < end:
        day += datetime.timedelta(days=1)
        if is_working_day(day):
            count += 1
    return count


def day_off_reason(day: datetime.date) -> str | None:
    """Why ``day`` is not a working day, for the UI (the holiday's name, or
    the weekday), or None for a working day."""
    if is_working_day(day):
        return None
    return holiday_name(day) or (_("a Saturday") if day.weekday() == 5 else _("a Sunday"))
