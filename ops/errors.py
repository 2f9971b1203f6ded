"""The error page of the last resort (handler500 in config/urls.py).

When the database cannot be reached (restarting, failed over, the network
between app server and database down) a request fails with psycopg's
OperationalError or InterfaceError: the visitor gets a 503 page in Swedish
(and English) with Retry-After, instead of "something went wrong", and
nothing was saved (each step is one transaction). The server recovers on its
own: CONN_HEALTH_CHECKS makes the next request test a kept connection
before using it and open a new one (production settings). Every other
unhandled error is the ordinary 500 page.
"""

import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.template import loader
from django.views import defaults

RETRY_AFTER_SECONDS = 10


def database_unavailable(exc) -> bool:
    """Whether ``exc`` says the database cannot be reached. Django wraps most
    driver errors in its own classes, but not all: a server-side cursor
    closed while the connection drops raises psycopg's own OperationalError
    (found by tests/ops/test_database_outage.py on the agreement list)."""
    from django.db import connection

    driver = getattr(connection, "Database", None)
    kinds = (OperationalError, InterfaceError)
    if driver is not None:
        kinds += (driver.OperationalError, driver.InterfaceError)
    return isinstance(exc, kinds)


def server_error(request, template_name=defaults.ERROR_500_TEMPLATE_NAME):
    if database_unavailable(sys.exc_info()[1]):
        body = loader.get_template("503.html").render()  # no context: it must not need the database
        response = HttpResponse(body, status=503)
        response["Retry-After"] = str(RETRY_AFTER_SECONDS)
        response["Cache-Control"] = "no-store"
        return response
    return defaults.server_error(request, template_name)
