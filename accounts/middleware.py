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
