"""Production. Every required variable is checked at start-up, and a missing or
malformed one stops the process with a message naming it.

Required: SECRET_KEY (50+ characters), ALLOWED_HOSTS (comma-separated),
DATABASE_URL (postgres://…). Optional: EMAIL_URL (smtp://…), MEDIA_ROOT,
CSRF_TRUSTED_ORIGINS (comma-separated https:// origins), and those read in
base.py (e.g. SESSION_IDLE_SECONDS, LOGIN_FAILURE_LIMIT, LOGIN_LOCKOUT_MINUTES).

Two-step verification is required of coordinators and administrators here
(SAMVERKAN_REQUIRE_2FA_ROLES in base.py); the local demo turns it off.
"""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import INSTALLED_APPS, MIDDLEWARE, env


def _required(name):
    value = env.str(name, default="").strip()
    if not value:
        raise ImproperlyConfigured(f"The environment variable {name} is required in production and is not set.")
    return value


SECRET_KEY = _required("SECRET_KEY")
if len(SECRET_KEY) < 50 or len(set(SECRET_KEY)) < 5:
    raise ImproperlyConfigured("The environment variable SECRET_KEY must be at least 50 random characters.")

_required("ALLOWED_HOSTS")
ALLOWED_HOSTS = [host.strip() for host in env.list("ALLOWED_HOSTS") if host.strip()]
if not ALLOWED_HOSTS or any(" " in host or "/" in host for host in ALLOWED_HOSTS):
    raise ImproperlyConfigured("The environment variable ALLOWED_HOSTS must be a comma-separated list of host names.")

_database_url = _required("DATABASE_URL")
if not _database_url.startswith(("postgres://", "postgresql://")):
    raise ImproperlyConfigured("The environment variable DATABASE_URL must be a postgres:// URL.")
try:
    DATABASES = {"default": env.db_url_config(_database_url)}
except Exception as exc:  # django-environ raises several kinds on bad URLs
    raise ImproperlyConfigured(f"The environment variable DATABASE_URL is malformed: {exc}") from exc
if not DATABASES["default"].get("NAME"):
    raise ImproperlyConfigured("The environment variable DATABASE_URL names no database.")
DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
# A kept connection is tested before a request uses it: after a database restart
# the first request opens a new one instead of failing (ops/errors.py).
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
# DB_CONNECT_TIMEOUT: seconds to wait for the database to answer a new connection
# (default 5): while it is unreachable, requests get the 503 page instead of hanging.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=5))
# The planner settings of these sessions (PostgreSQL's defaults are for spinning
# disks and big reports; both measured at 100,000 agreements):
# - no parallel plans: every page reads a few hundred rows at most, and a
#   parallel worker costs more to start (2–7 ms on the inbox) than it saves, and
#   takes the CPU another request is waiting for. The audit export reads through
#   COPY or a cursor, which PostgreSQL never parallelises.
# - random_page_cost 1.1 (the default 4 assumes a spinning disk): the data is in
#   memory or on SSD, and with 4 the inbox joined its 200 steps to their due
#   dates by reading all 267,000 due dates (44 ms) instead of looking up 200
#   (2.4 ms); the queue's 7,700: 27 → 15 ms.
DATABASES["default"].setdefault("OPTIONS", {}).setdefault(
    "options", env.str("PG_OPTIONS", default="-c max_parallel_workers_per_gather=0 -c random_page_cost=1.1")
)

CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])

DEBUG = False
# Webhooks never to addresses inside the network, never over plain http.
WEBHOOKS_REFUSE_PRIVATE = env.bool("WEBHOOKS_REFUSE_PRIVATE", default=True)
WEBHOOKS_ALLOW_HTTP = False
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=True)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_HSTS_SECONDS = 60 * 60 * 24 * 365
SECURE_HSTS_INCLUDE_SUBDOMAINS = True
SECURE_HSTS_PRELOAD = True
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
X_FRAME_OPTIONS = "DENY"

# Content-Security-Policy (django-csp): the browser runs and loads only what
# this site serves itself; no inline scripts or styles, no framing by others,
# forms post only here. Pages therefore carry no <script> without src, no on*=
# handlers and no style= attributes (tests/security checks the main pages).
INSTALLED_APPS = [*INSTALLED_APPS, "csp"]
MIDDLEWARE = [*MIDDLEWARE]
MIDDLEWARE.insert(MIDDLEWARE.index("django.middleware.security.SecurityMiddleware") + 1, "csp.middleware.CSPMiddleware")
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
        "base-uri": ["'self'"],
    }
}
