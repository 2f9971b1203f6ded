from django.apps import AppConfig
from django.contrib.auth import signals as auth_signals
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    name = "accounts"
    verbose_name = _("Accounts and organisations")

    def ready(self):
        from . import history  # noqa: F401  (connects the audit-context receiver)

        # Sign-in events are an audit record (infrastructure, not business logic).
        auth_signals.user_logged_in.connect(_signed_in, dispatch_uid="samverkan_sign_in_event_login")
        # Django's own receiver saves the user to set last_login, and every save
        # writes a history row: a sign-in showed in the audit log as "Användare:
        # Ändrat" with no who and no why. The sign-in event is the record of a
        # sign-in; last_login (excluded from the user's history) is set without a save.
        auth_signals.user_logged_in.disconnect(dispatch_uid="update_last_login")
        auth_signals.user_logged_in.connect(_last_login, dispatch_uid="samverkan_last_login")
        auth_signals.user_logged_out.connect(_signed_out, dispatch_uid="samverkan_sign_in_event_logout")
        auth_signals.user_login_failed.connect(_sign_in_failed, dispatch_uid="samverkan_sign_in_event_failed")


def _signed_in(sender, request=None, user=None, **kwargs):
    from .services import sign_in_event_record
    from .sessions import session_started

    # The OpenID Connect callback names its provider; otherwise it was the password form.
    method = getattr(request, "samverkan_sign_in_method", "password") if request is not None else ""
    sign_in_event_record(kind="login", request=request, user=user, method=method)
    if request is not None and hasattr(request, "session"):
        session_started(request, user, method)


def _last_login(sender, request=None, user=None, **kwargs):
    from .services import last_login_set

    if user is not None and user.pk:
        last_login_set(user=user)


def _signed_out(sender, request=None, user=None, **kwargs):
    from .services import sign_in_event_record
    from .sessions import session_signed_out

    if user is not None:  # signing out without being signed in is no event
        sign_in_event_record(kind="logout", request=request, user=user)
        if request is not None and hasattr(request, "session"):
            session_signed_out(request)


def _sign_in_failed(sender, credentials=None, request=None, **kwargs):
    from .services import sign_in_event_record
    from .spraying import record_failure
    from .views import axes_username

    # Django has already masked the password in ``credentials``; only the e-mail is passed on.
    email = (credentials or {}).get("username") or (credentials or {}).get("email") or ""
    sign_in_event_record(kind="failed", request=request, email=str(email))
    record_failure(request, axes_username(request, credentials))
