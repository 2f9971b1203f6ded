"""Settings shared by every environment.

Every value that differs between machines is read from the environment with
django-environ; each variable is documented where it is read. The environment
modules (local, test, production) only override what they must.
"""

from datetime import timedelta
from pathlib import Path

import environ
from django.utils.translation import gettext_lazy as _

from storage.conf import storages_from_env

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()

# SECRET_KEY: Django's signing key. Required in production; the local and test
# settings provide a throw-away one.
SECRET_KEY = env("SECRET_KEY", default="")

DEBUG = False

# ALLOWED_HOSTS: comma-separated host names this instance answers to.
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["127.0.0.1", "localhost"])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "guardian",
    "simple_history",
    "viewflow",
    "viewflow.workflow",
    "axes",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "accounts",
    "cases",
    "workflows",
    "cases.audit",
    "storage",
    "ops",
]

MIDDLEWARE = [
    # First: the client address behind the proxy, the request id, the probes (/healthz, /readyz,
    # /metrics) and the metrics (ops/middleware.py).
    "ops.middleware.ForwardedForMiddleware",
    "ops.middleware.RequestIdMiddleware",
    "ops.middleware.ProbeMiddleware",
    "ops.metrics.MetricsMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "accounts.middleware.SwedishByDefaultLocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "accounts.middleware.IdleSessionMiddleware",
    "accounts.middleware.TwoFactorRequiredMiddleware",
    "accounts.middleware.AuditContextMiddleware",
    # Last, as django-axes asks: turns a locked-out login into the lock-out page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "django.template.context_processors.i18n",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# DATABASE_URL: e.g. postgres://user:password@host:5432/name. PostgreSQL is the
# database of record; SQLite only serves the zero-setup demo (`make run`).
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/samverkan")}
DATABASES["default"]["ATOMIC_REQUESTS"] = False

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    # First: refuses a locked-out login before any password is checked.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Guardian's anonymous user would be a row in our user table; we need none.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Lock-out after repeated failed logins (django-axes). Attempts are counted per
# e-mail address *and* client address together: a municipal office where
# everyone shares one public address is not locked out because one person
# mistyped, and someone guessing at one account from elsewhere cannot lock its
# owner out. The lock always ends after the cool-off; never permanent.
# LOGIN_FAILURE_LIMIT: failed attempts before the lock-out (default 5).
AXES_FAILURE_LIMIT = env.int("LOGIN_FAILURE_LIMIT", default=5)
# LOGIN_LOCKOUT_MINUTES: how long the lock-out lasts (default 15).
AXES_COOLOFF_TIME = timedelta(minutes=env.int("LOGIN_LOCKOUT_MINUTES", default=15))
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_USERNAME_CALLABLE = "accounts.views.axes_username"
AXES_CLIENT_IP_CALLABLE = "accounts.middleware.client_ip"
# A successful login clears that person's failed attempts (from that address only).
AXES_RESET_ON_SUCCESS = True
# Attempts during a lock-out do not extend it: it ends when the page said it would.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_LOCKOUT_CALLABLE = "accounts.views.lockout_response"
AXES_HTTP_RESPONSE_CODE = 429
# No start-up banner; logs mask e-mail and client addresses.
AXES_VERBOSE = False

# Two-factor sign-in (django-otp, TOTP): holders of these roles must give a
# one-time code from an authenticator app after their password; anyone else may
# turn it on from the "Tvåstegsverifiering" page. Coordinators and
# administrators act on every municipality, so a guessed password must not be
# enough. The local demo and the test settings turn the requirement off.
SAMVERKAN_REQUIRE_2FA_ROLES = ["coordinator", "administrator"]
OTP_TOTP_ISSUER = "Samverkan"

# Swedish by default, English selectable.
LANGUAGE_CODE = "sv"
LANGUAGES = [("sv", _("Swedish")), ("en", _("English"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = "Europe/Stockholm"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]

# MEDIA_ROOT: where uploaded attachments were stored before files moved into the
# shared storage (FILE_STORAGE); `manage.py move_files_to_storage` reads them from here.
MEDIA_ROOT = env.path("MEDIA_ROOT", default=str(BASE_DIR / "media"))
MEDIA_URL = "/media/"

# FILE_STORAGE (database | s3) and its S3_* variables: see storage/conf.py.
STORAGES = storages_from_env(env)

# E-mail. EMAIL_URL e.g. smtp://user:password@mail.example.se:587 (production);
# the local settings print mail to the console.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="samverkan@regiondalarna.se")
SERVER_EMAIL = DEFAULT_FROM_EMAIL

SESSION_COOKIE_HTTPONLY = True
# Idle sessions end after SESSION_IDLE_SECONDS (default 30 minutes) without a request.
SESSION_COOKIE_AGE = env.int("SESSION_IDLE_SECONDS", default=30 * 60)
# Activity renews the session (accounts.middleware.IdleSessionMiddleware), at
# most once a minute, instead of a write on every request.
SESSION_SAVE_EVERY_REQUEST = False
SESSION_EXPIRE_AT_BROWSER_CLOSE = True

MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# The case-number prefix of new agreements, e.g. "RD" gives RD 2026/0042.
CASE_NUMBER_PREFIX = env("CASE_NUMBER_PREFIX", default="RD")

# LOG_FORMAT: "json" (one JSON object per line, with the request id; ops/logging.py) or "text".
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "ops.logging.RequestIdFilter"},
        "short_database_errors": {"()": "ops.logging.ShortDatabaseErrors"},
    },
    "formatters": {
        "json": {"()": "ops.logging.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "filters": ["request_id", "short_database_errors"],
            "formatter": env.str("LOG_FORMAT", default="json"),
        }
    },
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}

# METRICS_ALLOWED_ADDRESSES: comma-separated addresses or networks (CIDR) that may
# read /metrics, directly (not through the reverse proxy); empty: nobody.
METRICS_ALLOWED_ADDRESSES = env.list("METRICS_ALLOWED_ADDRESSES", default=["127.0.0.1", "::1"])

# TRUSTED_PROXIES: comma-separated addresses or networks of the reverse proxies in
# front (e.g. 127.0.0.1 for nginx on the same machine). From them, the client
# address is taken from X-Forwarded-For; default none (REMOTE_ADDR as it is).
TRUSTED_PROXIES = env.list("TRUSTED_PROXIES", default=[])

# Default due dates, in days from when a step reaches its party. A coordinator
# can change a step's due date. Override with STEP_DUE_DAYS_<STEP>=n.
STEP_DUE_DAYS = {
    step: env.int(f"STEP_DUE_DAYS_{step.upper()}", default=days)
    for step, days in {
        "draft": 30,
        "review": 21,
        "region_decision": 60,
        "municipal_decision": 60,
        "sign_region": 14,
        "sign_municipality": 14,
        "write_follow_up": 45,
        "review_follow_up": 21,
    }.items()
}

# Where links in e-mails point, e.g. https://samverkan.regiondalarna.se
SITE_URL = env("SITE_URL", default="http://127.0.0.1:8000")

# The day ("MM-DD") each year's follow-up of an agreement in force opens.
FOLLOW_UP_OPENS = env("FOLLOW_UP_OPENS", default="10-01")
