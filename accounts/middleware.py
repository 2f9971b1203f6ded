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
