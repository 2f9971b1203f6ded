from .history import audit_context


def client_ip(request):
    """The client address as seen by this server (REMOTE_ADDR).

    Behind a reverse proxy, configure the proxy to set REMOTE_ADDR (e.g.
    gunicorn's --forwarded-allow-ips); headers such as X-Forwarded-For are not
    trusted here because any client can send them."""
    return request.META.get("REMOTE_ADDR") or None


class AuditContextMiddleware:
    """Every write during a request carries the client address and the actor."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        actor = user if user is not None and user.is_authenticated else None
        with audit_context(ip=client_ip(request), actor=actor):
            return self.get_response(request)


class NoStoreWhenSignedInMiddleware:
    """Every response to a signed-in user (pages, exports, attachment
    downloads) is sent with ``Cache-Control: no-store``: a shared municipal
    PC must not keep agreements or the audit log in its browser cache after
    sign-out, nor show them again with the Back button."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.utils.cache import add_never_cache_headers

        user = getattr(request, "user", None)
        signed_in = user is not None and user.is_authenticated
        response = self.get_response(request)
        user = getattr(request, "user", None)  # signing in or out replaces it
        if signed_in or (user is not None and user.is_authenticated):
            add_never_cache_headers(response)
        return response


class SwedishByDefaultLocaleMiddleware:
    """The interface is Swedish unless the user has chosen another language
    (the language cookie set by Django's set_language view). Unlike Django's
    LocaleMiddleware, the browser's Accept-Language is not consulted: a
    municipal PC with an English browser still gets Swedish."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        from django.conf import settings
        from django.utils import translation
        from django.utils.cache import patch_vary_headers

        chosen = request.COOKIES.get(settings.LANGUAGE_COOKIE_NAME)
        supported = {code for code, _name in settings.LANGUAGES}
        language = chosen if chosen in supported else settings.LANGUAGE_CODE
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Cookie",))
        response.headers.setdefault("Content-Language", language)
        return response


class TwoFactorRequiredMiddleware:
    """Until a user who must give a one-time code (their role requires it, or
    they turned it on) has given one in this session, every page except
    logging in and out, changing language and the two-factor pages
    themselves sends them to the code step, or to setting up an app when
    they have none yet. Install after django_otp's OTPMiddleware and Django's
    MessageMiddleware."""

    EXEMPT_URL_NAMES = (
        "login",
        "logout",
        "set_language",
        "accounts:two_factor_verify",
        "accounts:two_factor_setup",
        "accounts:two_factor_recovery",
        "accounts:enrolment_request",
    )
    # Pages with arguments in their path (the enrolment link carries its token).
    EXEMPT_VIEW_NAMES = ("accounts:enrolment_link",)

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or self._is_exempt(request.path_info):
            return self.get_response(request)

        from django.shortcuts import redirect
        from django.urls import reverse
        from django.utils.http import urlencode

        from .two_factor import needs_code

        state = needs_code(user, request.session)
        if state is None:
            return self.get_response(request)
        target = reverse("accounts:two_factor_verify" if state == "verify" else "accounts:two_factor_setup")
        if request.method == "GET":
            target += "?" + urlencode({"next": request.get_full_path()})
        return redirect(target)

    def _is_exempt(self, path):
        from django.conf import settings
        from django.urls import NoReverseMatch, Resolver404, resolve, reverse

        static_url = "/" + settings.STATIC_URL.lstrip("/") if settings.STATIC_URL else None
        if static_url and path.startswith(static_url):
            return True
        for name in self.EXEMPT_URL_NAMES:
            try:
                if path == reverse(name):
                    return True
            except NoReverseMatch:
                continue
        try:
            return resolve(path).view_name in self.EXEMPT_VIEW_NAMES
        except Resolver404:
            return False


class IdleSessionMiddleware:
    """A signed-in session ends after SESSION_COOKIE_AGE seconds without a
    request. Each request renews it, but the session is written at most once a
    minute (Django's SESSION_SAVE_EVERY_REQUEST writes on every request: one
    UPDATE per page for nothing)."""

    RENEW_AFTER_SECONDS = 60

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        import time

        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            now = int(time.time())
            if now - request.session.get("_renewed", 0) >= self.RENEW_AFTER_SECONDS:
                request.session["_renewed"] = now  # marks the session modified: saved with a new expiry
        return self.get_response(request)
