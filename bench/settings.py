"""Settings of the benchmark server (bench/run.py): production, with three
bench-only changes.

- No two-step verification: the load users are signed in by sessions made
  directly for them (bench/run.py), which a one-time code cannot be part of.
- viewflow's stock frontend (FlowAppViewset: its queue, archive, process
  list and process page) is mounted at /stock/ (bench/urls_stock.py), with the
  middleware it needs, so that the same data can be served both ways side by
  side. The application itself never mounts it.
- Plain HTTP on 127.0.0.1: no redirect to HTTPS (SECURE_SSL_REDIRECT=false in
  the environment bench/run.py sets).

Everything else (sessions saved on every request, CSP, security headers,
persistent database connections) is as in production.
"""

import warnings

from django.core.paginator import UnorderedObjectListWarning

from config.settings.production import *  # noqa: F403
from config.settings.production import INSTALLED_APPS, MIDDLEWARE

# viewflow's stock process list pages an unordered queryset; its warning would
# fill the benchmark's output.
warnings.filterwarnings("ignore", category=UnorderedObjectListWarning)

SAMVERKAN_REQUIRE_2FA_ROLES = []
ROOT_URLCONF = "bench.urls_stock"
INSTALLED_APPS = [*INSTALLED_APPS, "bench.loadtest"]
MIDDLEWARE = [*MIDDLEWARE, "viewflow.middleware.SiteMiddleware"]
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # The steps benchmark makes coordinators race for the same steps on purpose:
    # the losers' 409 answers are expected, not worth a line each.
    "loggers": {"django.request": {"level": "ERROR"}},
}
