"""The test suite: always PostgreSQL (DATABASE_URL, default the local cluster)."""

from .base import *  # noqa: F403
from .base import BASE_DIR, INSTALLED_APPS, env

SECRET_KEY = "test-key-not-secret-0123456789-abcdefghijklmnopqrstuvwxyz"
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/samverkan")}
if DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
    raise RuntimeError("The tests run on PostgreSQL only; DATABASE_URL must point at one.")
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# The outbox (base.py) stays; what the worker delivers is kept in memory,
# unless EMAIL_URL names a mail server (the worker processes of tests/background).
if not env.str("EMAIL_URL", default=""):
    EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
MEDIA_ROOT = BASE_DIR / "test-artifacts" / "media"

# Most tests log in with client.login()/force_login(), which give django-axes
# no request to count: tests/security turns axes on and goes through /login/.
AXES_ENABLED = False
# Most tests act as coordinators without a one-time code; tests/security turns
# the two-factor requirement back on (pytest-django's ``settings`` fixture).
SAMVERKAN_REQUIRE_2FA_ROLES = []

# The load generator's command (manage.py generate_load_data): a tool beside
# the benchmark, never installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "bench.loadtest"]
