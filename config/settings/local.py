"""The zero-setup demo (`make run`): SQLite unless DATABASE_URL is set."""

from .base import *  # noqa: F403
from .base import BASE_DIR, DEMO_SIGNING_DIR, INSTALLED_APPS, SIGNING_PKCS12, env

DEBUG = True
# The demo: webhooks to a receiver on this machine over plain http.
WEBHOOKS_ALLOW_HTTP = True
SECRET_KEY = env("SECRET_KEY", default="local-demo-key-not-for-production-use-0123456789")
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# The worker beside the server (`make run`) prints the e-mails it sends, unless EMAIL_URL is set.
if not env.str("EMAIL_URL", default=""):
    EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.console.EmailBackend"
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # The server and the worker write to the same file: wait for each other's
    # writes, and take the write lock at the start of a transaction.
    DATABASES["default"]["OPTIONS"] = {"timeout": 20, "transaction_mode": "IMMEDIATE"}
# Readable log lines in the terminal; production logs JSON (LOG_FORMAT).
LOGGING["handlers"]["console"]["formatter"] = env.str("LOG_FORMAT", default="text")  # noqa: F405

# The demo's coordinators and administrator log in with their password only, so
# a newcomer can try every role at once without an authenticator app. Anyone can
# still turn two-step verification on at /konto/tvastegsverifiering/ to see it;
# production requires it of coordinators and administrators (see base.py).
SAMVERKAN_REQUIRE_2FA_ROLES = []

# The load generator's command (manage.py generate_load_data): a tool beside
# the benchmark, never installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "bench.loadtest"]

# The demo signs the final agreements with the self-signed demo certificate
# that `make run` creates (manage.py create_demo_signing_certificate), unless a
# certificate is configured.
if not SIGNING_PKCS12:
    SIGNING_CERT = env.str("SAMVERKAN_SIGNING_CERT", default=str(DEMO_SIGNING_DIR / "certificate.pem"))
    SIGNING_KEY = env.str("SAMVERKAN_SIGNING_KEY", default=str(DEMO_SIGNING_DIR / "private-key.pem"))
