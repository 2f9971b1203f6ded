"""Prometheus metrics (the official prometheus-client), at /metrics.

Served only to the addresses in METRICS_ALLOWED_ADDRESSES (and never to a
request that came through the reverse proxy: see ``allowed``); to anyone
else /metrics does not exist (404).

Per request (``MetricsMiddleware``), labelled by the URL pattern's name (never
by path, so the number of series stays bounded):

- ``samverkan_http_requests_total{method,view,status}``
- ``samverkan_http_request_duration_seconds{method,view}`` (histogram)
- ``samverkan_http_request_db_seconds{view}`` (histogram: database time per request)
- ``samverkan_db_queries_total{view}``

Measured around the request in memory: no page runs a query more.

Workflow: ``samverkan_workflow_steps_completed_total{step}``, counted when a
viewflow task finishes and its transaction commits.

The background worker's figures are defined here so that their names are
fixed, and the worker fills them:

- ``samverkan_emails_failed_total``, ``samverkan_webhooks_failed_total``:
  counters; ``EMAILS_FAILED.inc()`` where a delivery gives up.
- queue length and age: gauges read from the database when Prometheus
  scrapes, through ``register_collector``::

      from prometheus_client.core import GaugeMetricFamily
      from ops.metrics import register_collector

      @register_collector
      def queue():
          length, oldest_age = ...  # one query
          yield GaugeMetricFamily("samverkan_queue_length", "Jobs waiting to run", value=length)
          yield GaugeMetricFamily("samverkan_queue_oldest_age_seconds", "Age of the oldest waiting job",
                                  value=oldest_age)

Under gunicorn with several worker processes set PROMETHEUS_MULTIPROC_DIR
(deploy/gunicorn.conf.py, deploy/systemd/samverkan-web.service): each process
writes its counters to files there and /metrics adds them up. Processes run
from cron or the worker (e.g. ``workflow_timers``) count their steps into the
same directory when it is set for them too.
"""

import functools
import ipaddress
import logging
import os
import time

from django.conf import settings
from django.db import connection, transaction
from django.http import HttpResponse, HttpResponseNotFound
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)

logger = logging.getLogger(__name__)

LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
DB_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0)
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter("samverkan_http_requests", "HTTP requests answered", ["method", "view", "status"])
LATENCY = Histogram(
    "samverkan_http_request_duration_seconds",
    "Time to answer a request (until the response is handed to the server)",
    ["method", "view"],
    buckets=LATENCY_BUCKETS,
)
DB_TIME = Histogram("samverkan_http_request_db_seconds", "Database time per request", ["view"], buckets=DB_BUCKETS)
DB_QUERIES = Counter("samverkan_db_queries", "Database queries run by requests", ["view"])
STEPS_COMPLETED = Counter("samverkan_workflow_steps_completed", "Workflow tasks completed (committed)", ["step"])
EMAILS_FAILED = Counter("samverkan_emails_failed", "E-mails the worker gave up delivering")
WEBHOOKS_FAILED = Counter("samverkan_webhooks_failed", "Webhook calls the worker gave up delivering")

_collectors = []


def register_collector(func):
    """Register a function yielding metric families, called at every scrape."""
    _collectors.append(func)
    return func


class _Registered:
    """The registered scrape-time functions as one prometheus-client collector."""

    def collect(self):
        for func in list(_collectors):
            try:
                yield from func()
            except Exception:  # one broken source must not hide every other metric
                logger.exception("Metrics collector %s failed", getattr(func, "__name__", func))


_REGISTERED = _Registered()
_MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
if not _MULTIPROCESS:
    REGISTRY.register(_REGISTERED)


def _registry():
    """What a scrape reads: this process's metrics, or (under gunicorn with
    PROMETHEUS_MULTIPROC_DIR) every process's, added up; and the registered
    scrape-time collectors."""
    if not _MULTIPROCESS:
        return REGISTRY
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    registry.register(_REGISTERED)
    return registry


@functools.cache
def networks(addresses):
    """The networks of a tuple of addresses / CIDR networks (bad entries logged and left out)."""
    found = []
    for address in addresses:
        try:
            found.append(ipaddress.ip_network(address.strip(), strict=False))
        except ValueError:
            logger.error("%r is not an address or network; ignored", address)
    return tuple(found)


def allowed(request):
    """Whether ``request`` may read the metrics: it comes straight from an
    allowed address (REMOTE_ADDR), not through the reverse proxy (which adds
    X-Forwarded-For: behind nginx on the same machine every visitor would
    otherwise come "from" 127.0.0.1)."""
    if "HTTP_X_FORWARDED_FOR" in request.META or "HTTP_FORWARDED" in request.META:
        return False
    try:
        address = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
    except ValueError:
        return False
    return any(address in network for network in networks(tuple(settings.METRICS_ALLOWED_ADDRESSES)))


def metrics_response(request):
    if not allowed(request):
        return HttpResponseNotFound("Not Found\n", content_type="text/plain")
    response = HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response


class _QueryTimer:
    def __init__(self):
        self.seconds = 0.0
        self.count = 0

    def __call__(self, execute, sql, params, many, context):
        start = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            self.seconds += time.perf_counter() - start
            self.count += 1


def view_label(request):
    match = getattr(request, "resolver_match", None)
    if match is None:
        return "<unmatched>"
    return match.view_name or "<unnamed>"


class MetricsMiddleware:
    """Counts and times each request, and its database time."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        timer = _QueryTimer()
        start = time.perf_counter()
        with connection.execute_wrapper(timer):
            response = self.get_response(request)
        elapsed = time.perf_counter() - start
        method = request.method if request.method in METHODS else "other"
        view = view_label(request)
        REQUESTS.labels(method, view, str(response.status_code)).inc()
        LATENCY.labels(method, view).observe(elapsed)
        DB_TIME.labels(view).observe(timer.seconds)
        if timer.count:
            DB_QUERIES.labels(view).inc(timer.count)
        request.samverkan_timing = (elapsed, timer.seconds, timer.count)
        return response


def _task_finished(sender, process=None, task=None, **kwargs):
    node = getattr(task, "flow_task", None)
    name = getattr(node, "name", None) or "unknown"
    transaction.on_commit(STEPS_COMPLETED.labels(name).inc)


def connect_signals():
    from viewflow.workflow.signals import task_finished

    task_finished.connect(_task_finished, dispatch_uid="samverkan_metrics_task_finished")
