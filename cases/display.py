"""How a time or a date is written for a person to read: one format everywhere.

Every time a person reads is Swedish local time (settings.TIME_ZONE,
Europe/Stockholm), written "27 november 2026 22:44"; every date in running
text "27 november 2026". Templates write the same two formats with the `date` filter
(``|date:"j F Y H:i"``, ``|date:"j F Y"``; with USE_TZ it shows local time);
Python code (messages, 409 pages, e-mails) calls these functions. Exports that carry
machine-readable times say which zone they are in.
"""

import datetime

from django.utils import formats, timezone

DATE_FORMAT = "j F Y"
DATETIME_FORMAT = "j F Y H:i"


def when(value: datetime.datetime | None) -> str:
    """A moment in local time: "27 november 2026 22:44"."""
    if value is None:
        return ""
    if timezone.is_aware(value):
        value = timezone.localtime(value)
    return formats.date_format(value, DATETIME_FORMAT)


def day(value: datetime.date | None) -> str:
    """A day: "27 november 2026"."""
    if value is None:
        return ""
    if isinstance(value, datetime.datetime):
        return when(value)
    return formats.date_format(value, DATE_FORMAT)
