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
    "django_tasks",
    "django_tasks_db",
    "accounts",
    "cases",
    "workflows",
    "cases.audit",
    "background",
    "storage",
    "ops",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "api",
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
    "accounts.middleware.NoStoreWhenSignedInMiddleware",
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
                "config.context.site",
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
    # Second: refuses a password sprayed from one address over many accounts (accounts/spraying.py).
    "accounts.spraying.PasswordSprayBackend",
    "django.contrib.auth.backends.ModelBackend",
    "guardian.backends.ObjectPermissionBackend",
]
# Guardian's anonymous user would be a row in our user table; we need none.
ANONYMOUS_USER_NAME = None
GUARDIAN_MONKEY_PATCH_USER = False
# Guardian's checker reads a user's object permissions once per user object
# (per request); accounts.permissions.grants_of fills that cache in its one query.
GUARDIAN_AUTO_PREFETCH = True

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
# LOGIN_SPRAY_LIMIT: one password failing from one client address for this
# many different e-mail addresses within the pause (default 5) pauses that
# password from that address, for every account (accounts/spraying.py).
LOGIN_SPRAY_LIMIT = env.int("LOGIN_SPRAY_LIMIT", default=5)
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

# Signed checkpoints of the audit trail (cases/audit/checkpoints.py): Ed25519
# keys the database never sees. The signer (manage.py audit_checkpoint, from
# cron or the worker) needs the private key, verify_audit only the public one.
# AUDIT_SIGNING_KEY_FILE: a PEM file (PKCS#8) readable by the signing process
# only; or AUDIT_SIGNING_KEY: the same PEM text, or the raw key in base64.
AUDIT_SIGNING_KEY_FILE = env("AUDIT_SIGNING_KEY_FILE", default="")
AUDIT_SIGNING_KEY = env("AUDIT_SIGNING_KEY", default="")
# AUDIT_VERIFY_KEY_FILE: a file of PEM public keys; or AUDIT_VERIFY_KEYS: raw
# public keys in base64, comma-separated (as audit_checkpoint --generate-key
# prints them). Keep old keys listed after a change of key.
AUDIT_VERIFY_KEY_FILE = env("AUDIT_VERIFY_KEY_FILE", default="")
AUDIT_VERIFY_KEYS = env("AUDIT_VERIFY_KEYS", default="")

# Two-factor sign-in (django-otp, TOTP): holders of these roles must give a
# one-time code from an authenticator app after their password; anyone else may
# turn it on from the "Tvåstegsverifiering" page. Coordinators and
# administrators act on every municipality, so a guessed password must not be
# enough. The local demo and the test settings turn the requirement off.
SAMVERKAN_REQUIRE_2FA_ROLES = ["coordinator", "administrator"]
OTP_TOTP_ISSUER = "Samverkan"
# Setting up the first authenticator app needs more than the password: a
# one-time link e-mailed to the account's address, valid ENROLMENT_LINK_MINUTES
# (default 30), or a one-time code an administrator hands out, valid
# ENROLMENT_CODE_HOURS (default 72). See accounts/enrolment.py.
ENROLMENT_LINK_MINUTES = env.int("ENROLMENT_LINK_MINUTES", default=30)
ENROLMENT_CODE_HOURS = env.int("ENROLMENT_CODE_HOURS", default=72)
# Signing asks the signatory to confirm who they are again (password, or the
# one-time code with an authenticator app); a confirmation counts for this long.
SIGNING_REAUTH_MINUTES = env.int("SIGNING_REAUTH_MINUTES", default=5)

# The region's certificate for the PAdES signature on the signed agreement
# (cases/agreements/pades.py; README › Settings, › Documents and signatures).
# Either a PKCS#12 file and its password, or a PEM certificate and a PEM key
# (with the key's password, if it has one). SAMVERKAN_SIGNING_REQUIRED: a
# missing or unusable certificate is an error of `manage.py check` (default in
# production) rather than a warning.
SIGNING_PKCS12 = env.str("SAMVERKAN_SIGNING_PKCS12", default="")
SIGNING_PKCS12_PASSWORD = env.str("SAMVERKAN_SIGNING_PKCS12_PASSWORD", default="")
SIGNING_CERT = env.str("SAMVERKAN_SIGNING_CERT", default="")
SIGNING_KEY = env.str("SAMVERKAN_SIGNING_KEY", default="")
SIGNING_KEY_PASSWORD = env.str("SAMVERKAN_SIGNING_KEY_PASSWORD", default="")
SIGNING_REQUIRED = env.bool("SAMVERKAN_SIGNING_REQUIRED", default=False)
# The signing providers enabled (cases/agreements/signing_providers.py):
# "in_system" (the signatory, with renewed sign-in) and "paper" (a coordinator
# registers a paper signature with its scan).
SIGNING_PROVIDERS = env.list("SAMVERKAN_SIGNING_PROVIDERS", default=["in_system", "paper"])
# Where `manage.py create_demo_signing_certificate` writes the demo's
# self-signed certificate (git-ignored); the local settings point at it.
DEMO_SIGNING_DIR = BASE_DIR / "demo-signing"

# Sign-in through the organisations' own identity providers (OpenID Connect).
# OIDC_PROVIDERS: comma-separated keys, e.g. "dalarna,falun"; each key's
# settings in OIDC_<KEY>_ISSUER, _CLIENT_ID, _CLIENT_SECRET, _DOMAINS (e-mail
# domains it vouches for), and optionally _NAME, _ROLES (the claim → role
# mapping), _ORGANISATIONS, _GROUPS_CLAIM, _EMAIL_CLAIM, _SUBJECT_CLAIM,
# _MFA_AMR, _MFA_ACR, _SCOPES, _USERINFO, _TIMEOUT. Documented in the README
# (Settings, and the Entra ID recipe) and in accounts/providers.py.
try:
    from accounts.providers import ProviderConfigError, providers_from_env

    SAMVERKAN_OIDC_PROVIDERS = providers_from_env(env)
except ProviderConfigError as _error:
    from django.core.exceptions import ImproperlyConfigured

    raise ImproperlyConfigured(str(_error)) from _error

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

# E-mail. Everything sent through Django's mail API goes into the outbox
# (background.mail), in the transaction of the change that causes it; the
# background worker sends it through EMAIL_DELIVERY_BACKEND. EMAIL_URL, e.g.
# smtp://user:password@mail.example.se:587, sets the mail server (production
# requires it for mail to leave); without it the local settings print mail to
# the worker's console and the test settings keep it in memory.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", default="samverkan@regiondalarna.se")
# Who runs the service and whom people contact (the footer, the accessibility
# statement, the message to a deactivated account): SITE_ORGANISATION,
# SUPPORT_EMAIL and SUPPORT_PHONE (optional).
SITE_ORGANISATION = env("SITE_ORGANISATION", default="Region Dalarna")
SUPPORT_EMAIL = env("SUPPORT_EMAIL", default="samverkan@regiondalarna.se")
SUPPORT_PHONE = env("SUPPORT_PHONE", default="")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
EMAIL_BACKEND = "background.mail.OutboxEmailBackend"
EMAIL_DELIVERY_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
# EMAIL_TIMEOUT: seconds the worker waits for the mail server before it tries
# again later (default 60; a slow server answering in 30 s is still served).
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", default=60)


def email_url_settings(url):
    """The SMTP settings of EMAIL_URL, for the worker's delivery backend."""
    from django.core.exceptions import ImproperlyConfigured

    try:
        found = env.email_url_config(url)
    except Exception as exc:
        raise ImproperlyConfigured(f"The environment variable EMAIL_URL is malformed: {exc}") from exc
    found["EMAIL_DELIVERY_BACKEND"] = found.pop("EMAIL_BACKEND")
    return found


if env.str("EMAIL_URL", default=""):
    vars().update(email_url_settings(env.str("EMAIL_URL")))

# The outbox's retries: after a failed attempt the worker waits
# OUTBOX_RETRY_SECONDS (default 60), doubling each time up to
# OUTBOX_RETRY_MAX_SECONDS (default 3600); after OUTBOX_MAX_ATTEMPTS (default
# 8, about 4 hours in all) the message is failed and shown to administrators,
# who can send it again. A permanent refusal (SMTP 5xx) fails at once.
OUTBOX_RETRY_SECONDS = env.float("OUTBOX_RETRY_SECONDS", default=60)
OUTBOX_RETRY_MAX_SECONDS = env.float("OUTBOX_RETRY_MAX_SECONDS", default=3600)
OUTBOX_MAX_ATTEMPTS = env.int("OUTBOX_MAX_ATTEMPTS", default=8)

# The background worker (`manage.py run_worker`): Django's task interface
# with django-tasks-db's database backend, so the queue is in the database the
# application already has (SQLite in the demo, PostgreSQL in production).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend", "QUEUES": ["default"]}}
# /readyz fails ("worker_queue") when a task or a due e-mail has waited longer
# than WORKER_QUEUE_STUCK_SECONDS (default 600) for a worker to pick it up.
WORKER_QUEUE_STUCK_SECONDS = env.float("WORKER_QUEUE_STUCK_SECONDS", default=600)
# BACKGROUND_TICK_SECONDS: how often each worker's scheduler looks at the schedule (default 15).
BACKGROUND_TICK_SECONDS = env.float("BACKGROUND_TICK_SECONDS", default=15)
# The jobs the workers run on a schedule (background.schedule): every N
# seconds, or daily at a local time. Each runs once per slot however many
# workers run. Override the times with the variables named.
BACKGROUND_SCHEDULE = {
    # viewflow's timers: yearly follow-ups open, agreements close (was a cron line).
    "workflow_timers": {
        "call": "workflows.jobs.fire_workflow_timers",
        "every_seconds": env.float("WORKFLOW_TIMERS_EVERY_SECONDS", default=300),
    },
    # A safety net for e-mail: retries that came due and anything a stopped worker left.
    "deliver_emails": {
        "call": "background.mail.deliver_due",
        "every_seconds": env.float("DELIVER_EMAILS_EVERY_SECONDS", default=60),
    },
    # Reminders before and on a step's due date, escalation after it (working days only).
    "step_reminders": {"call": "workflows.reminders.send_step_reminders", "at": env("REMINDERS_AT", default="06:00")},
    # The daily digest of those who chose one, after the reminders of the day.
    "email_digest": {"call": "background.mail.send_digests", "at": env("DIGEST_AT", default="07:00")},
    # Substitutes: the roles of absences that have begun are given, of those that have ended taken back.
    "absence_grants": {
        "call": "accounts.services.sync_absence_grants",
        "every_seconds": env.float("ABSENCE_GRANTS_EVERY_SECONDS", default=300),
    },
    # A safety net for webhooks: retries that came due and anything a stopped worker left.
    "deliver_webhooks": {
        "call": "background.webhooks.deliver_due",
        "every_seconds": env.float("DELIVER_WEBHOOKS_EVERY_SECONDS", default=60),
    },
    # Old finished task rows of the queue (not the outbox, which is kept).
    "prune_task_results": {"call": "background.jobs.prune_task_results", "at": "03:30"},
    # The audit trail's signed checkpoints (README › The audit trail), where the signing key is.
    "audit_checkpoint": {
        "call": "cases.audit.checkpoints.sign_scheduled_checkpoint",
        "every_seconds": env.float("AUDIT_CHECKPOINT_EVERY_SECONDS", default=3600),
    },
}

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

# Default due dates, in Swedish working days (cases.workdays: weekends and
# public holidays do not count) from when a step reaches its party. A
# coordinator can change a step's due date. Override with STEP_DUE_DAYS_<STEP>=n.
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

# Reminders: the people who can take an open step are reminded this many
# working days before its due date, and on it; on the first working day after
# it the step is escalated to the region's coordinators.
REMINDER_WORKING_DAYS_BEFORE = env.int("REMINDER_WORKING_DAYS_BEFORE", default=3)


# ---------------------------------------------------------------------------
# The API (/api/v1/, api/): Django REST framework, its OpenAPI schema from
# drf-spectacular, the documentation pages served from our own static files
# (drf-spectacular-sidecar: no CDN).
# ---------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "api.authentication.IntegrationTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_THROTTLE_CLASSES": ["api.authentication.TokenRateThrottle"],
    "DEFAULT_PARSER_CLASSES": ["api.parsers.LimitedJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_SCHEMA_CLASS": "api.schema.ApiSchema",
    "EXCEPTION_HANDLER": "api.errors.exception_handler",
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "iso-8601",
    "DATE_FORMAT": "iso-8601",
}
# API_TOKEN_RATE: requests an integration token may make, e.g. "600/min" (DRF's throttle
# syntax), counted in the cache of each application server.
API_TOKEN_RATE = env("API_TOKEN_RATE", default="600/min")
# API_MAX_BODY_SIZE: the largest JSON body the API reads, in bytes; larger gets 413.
API_MAX_BODY_SIZE = env.int("API_MAX_BODY_SIZE", default=256 * 1024)
SPECTACULAR_SETTINGS = {
    "TITLE": "Samverkan API",
    "DESCRIPTION": "Culture collaboration agreements between Region Dalarna and its municipalities. "
    "Version 1: fields are only ever added within it. README › API and webhooks.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
    "SWAGGER_UI_DIST": "SIDECAR",
    # No links to each operation inside its summary button (a link in a button is
    # nested interaction, which screen readers cannot reach: axe, tests/e2e).
    "SWAGGER_UI_SETTINGS": {"deepLinking": False},
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        # Organisation.Kind and Party are the same two choices: one name for both.
        "RegionOrMunicipalityEnum": "cases.agreements.models.Party",
        "AttachmentKindEnum": "cases.agreements.models.Attachment.Kind",
    },
}

# Webhooks (background/webhooks.py). WEBHOOK_TIMEOUT_SECONDS: how long one attempt may take
# (default 5); WEBHOOK_RETRY_SECONDS (default 30) doubling up to WEBHOOK_RETRY_MAX_SECONDS
# (default 3600) between attempts, WEBHOOK_MAX_ATTEMPTS (default 48: about two days) in all.
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5)
WEBHOOK_RETRY_SECONDS = env.float("WEBHOOK_RETRY_SECONDS", default=30)
WEBHOOK_RETRY_MAX_SECONDS = env.float("WEBHOOK_RETRY_MAX_SECONDS", default=3600)
WEBHOOK_MAX_ATTEMPTS = env.int("WEBHOOK_MAX_ATTEMPTS", default=48)
# WEBHOOKS_ALLOW_HTTP: also plain http URLs (the demo and tests only; default off).
WEBHOOKS_ALLOW_HTTP = env.bool("WEBHOOKS_ALLOW_HTTP", default=False)
# WEBHOOKS_REFUSE_PRIVATE: refuse URLs that resolve to private, loopback or link-local
# addresses (on in production, see production.py).
WEBHOOKS_REFUSE_PRIVATE = env.bool("WEBHOOKS_REFUSE_PRIVATE", default=False)
