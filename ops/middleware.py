"""The operations middleware, first in MIDDLEWARE (config/settings/base.py):

0. ``ForwardedForMiddleware``: behind nginx, the client's address instead of
   nginx's (TRUSTED_PROXIES), for the audit trail, the lock-out and the logs.
1. ``RequestIdMiddleware``: the request id (ops.requestid) for the request's
   log lines and the X-Request-ID response header; one JSON log line per
   request (logger ``samverkan.requests``: method, path, view, status,
   duration and database time, user id).
2. ``ProbeMiddleware``: answers /healthz, /readyz and /metrics before any other
   middleware runs, so that a probe needs no allowed Host header, no HTTPS
   redirect, no session, sign-in or CSRF, and runs no query but its own.
3. ``ops.metrics.MetricsMiddleware``: counts and times every other request.
"""

import ipaddress
import json
import logging
import time

from django.conf import settings
from django.http import HttpResponse
from django.utils.functional import empty

from . import health, metrics
from .requestid import HEADER, META_KEY, request_id_context

request_logger = logging.getLogger("samverkan.requests")

HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"


class ForwardedForMiddleware:
    """When the request comes from a trusted proxy (TRUSTED_PROXIES: addresses
    or networks, e.g. the nginx in front), REMOTE_ADDR becomes the client
    address that proxy saw: the right-most address in X-Forwarded-For that is
    not itself a trusted proxy. From anyone else X-Forwarded-For is ignored
    (any client can send one)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        trusted = metrics.networks(tuple(settings.TRUSTED_PROXIES))
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
        if trusted and forwarded and _in(request.META.get("REMOTE_ADDR", ""), trusted):
            for candidate in reversed([part.strip() for part in forwarded.split(",")]):
                if not _valid(candidate):
                    break
                if not _in(candidate, trusted):
                    request.META["REMOTE_ADDR"] = candidate
                    break
        return self.get_response(request)


def _valid(address):
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def _in(address, networks):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


class RequestIdMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        start = time.perf_counter()
        with request_id_context(request.META.get(META_KEY)) as request_id:
            request.request_id = request_id
            response = self.get_response(request)
            response[HEADER] = request_id
            self._log(request, response, time.perf_counter() - start)
        return response

    @staticmethod
    def _log(request, response, elapsed):
        if request.path_info in (HEALTH_PATH, READY_PATH, METRICS_PATH):
            return  # probes every few seconds would drown the log
        _total, db_seconds, queries = getattr(request, "samverkan_timing", (elapsed, 0.0, 0))
        request_logger.info(
            "%s %s %s",
            request.method,
            request.path_info,
            response.status_code,
            extra={
                "method": request.method,
                "path": request.path_info,
                "view": metrics.view_label(request),
                "status": response.status_code,
                "duration_ms": round(elapsed * 1000, 1),
                "db_ms": round(db_seconds * 1000, 1),
                "db_queries": queries,
                "user_id": _user_id(request),
            },
        )


def _user_id(request):
    """The signed-in user's id if the request already loaded the user (reading
    it here must cost no query, and must not fail while the database is down)."""
    user = getattr(request, "user", None)
    wrapped = getattr(user, "_wrapped", user)
    if wrapped is None or wrapped is empty:
        return None
    return getattr(wrapped, "pk", None)


def _json(payload, status):
    response = HttpResponse(json.dumps(payload), content_type="application/json", status=status)
    response["Cache-Control"] = "no-store"
    return response


class ProbeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        path = request.path_info
        if path == HEALTH_PATH:
            return _json({"status": "ok"}, 200)
        if path == READY_PATH:
            failing = health.run_checks()
            if failing:
                return _json({"status": "unavailable", "failing": failing}, 503)
            return _json({"status": "ready"}, 200)
        if path == METRICS_PATH:
            return metrics.metrics_response(request)
        return self.get_response(request)
