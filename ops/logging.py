"""Logs as one JSON object per line, each with the request id.

``LOG_FORMAT=json`` (the default; ``text`` for a terminal) selects
``JsonFormatter`` for the console handler in config/settings/base.py. A line
holds ``time`` (UTC, ISO 8601), ``level``, ``logger``, ``message``,
``request_id`` (null outside a request or job), ``exception`` (the traceback)
when there is one, and the ``extra={...}`` values a caller passed that are
JSON-serialisable (e.g. ``status``, ``duration_ms``).
"""

import datetime
import json
import logging

from .requestid import current_request_id

# Attributes every LogRecord has; anything else was passed as extra=.
_STANDARD = frozenset(logging.makeLogRecord({}).__dict__) | {"message", "asctime", "request_id"}
# Django's request logging passes the request object itself: not for the log line.
_SKIP = frozenset({"request", "server_time"})


class RequestIdFilter(logging.Filter):
    """Put the current request id on every record (for any formatter)."""

    def filter(self, record):
        record.request_id = current_request_id()
        return True


class ShortDatabaseErrors(logging.Filter):
    """While the database is unreachable every request fails the same way: log
    one line each (the first line of the error), not a traceback each."""

    def filter(self, record):
        from .errors import database_unavailable

        if record.exc_info and database_unavailable(record.exc_info[1]):
            record.error = str(record.exc_info[1]).splitlines()[0] if str(record.exc_info[1]) else ""
            record.exc_info = None
            record.exc_text = None
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record):
        line = {
            "time": datetime.datetime.fromtimestamp(record.created, tz=datetime.UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or current_request_id(),
        }
        for key, value in record.__dict__.items():
            if key in _STANDARD or key in _SKIP or key.startswith("_") or key in line:
                continue
            try:
                json.dumps(value)
            except (TypeError, ValueError):
                value = str(value)
            line[key] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            line["exception"] = record.exc_text
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return json.dumps(line, ensure_ascii=False, default=str)
