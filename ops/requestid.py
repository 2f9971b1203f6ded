"""The request id: one per request, in every log line written while it is
handled and in the response's X-Request-ID header, and carried on by the
background jobs a request queues.

An incoming X-Request-ID (set by nginx, a load balancer or a calling system)
is used when it is sane: 8 to 128 characters of letters, digits and ``._-``;
anything else is replaced by a new id, so a client cannot inject text into
the logs.

For the background worker::

    from ops.requestid import current_request_id, request_id_context

    job.request_id = current_request_id()          # when the job is queued, in the request
    with request_id_context(job.request_id):       # when the worker runs it
        run(job)                                   # its log lines carry the request's id
"""

import contextvars
import re
import uuid
from contextlib import contextmanager

HEADER = "X-Request-ID"
META_KEY = "HTTP_X_REQUEST_ID"
SANE = re.compile(r"^[A-Za-z0-9._-]{8,128}$")

_current = contextvars.ContextVar("samverkan_request_id", default=None)


def new_request_id() -> str:
    return uuid.uuid4().hex


def sane(value) -> str | None:
    """``value`` when it can serve as a request id, else None."""
    return value if isinstance(value, str) and SANE.match(value) else None


def current_request_id() -> str | None:
    """The id of the request (or job) being handled in this context, if any."""
    return _current.get()


@contextmanager
def request_id_context(request_id=None):
    """Run the block under ``request_id`` (a new one when it is missing or not sane)."""
    token = _current.set(sane(request_id) or new_request_id())
    try:
        yield _current.get()
    finally:
        _current.reset(token)
