"""gunicorn settings for Samverkan (deploy/systemd/samverkan-web.service):

    gunicorn --config deploy/gunicorn.conf.py config.wsgi

Environment (all optional): GUNICORN_BIND (default 127.0.0.1:8000; the
address nginx proxies to, and Prometheus scrapes /metrics from), GUNICORN_WORKERS
(default 2 × CPUs + 1), GUNICORN_TIMEOUT (default 60 s), PROMETHEUS_MULTIPROC_DIR
(set by the systemd unit: where the worker processes keep their metrics).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", multiprocessing.cpu_count() * 2 + 1))
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "60"))
# Restarting a worker now and then bounds slow memory growth; the jitter keeps them from restarting together.
max_requests = 2000
max_requests_jitter = 200
# On SIGTERM (systemctl stop / restart): finish the requests in progress, for up to this long.
graceful_timeout = 30
# nginx on this machine sets X-Forwarded-Proto: trust it from there only. Set
# FORWARDED_ALLOW_IPS to the proxy's address when nginx runs elsewhere.
forwarded_allow_ips = os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")
# One JSON line per request comes from the application (logger samverkan.requests,
# with the request id, view, status and database time): no access log of gunicorn's own.
accesslog = None
errorlog = "-"
capture_output = True
# gunicorn's own messages as JSON lines too.
logconfig_dict = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"json": {"()": "ops.logging.JsonFormatter"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "json"}},
    "loggers": {"gunicorn.error": {"handlers": ["console"], "level": "INFO", "propagate": False}},
}


def child_exit(server, worker):
    """A worker process ended: its live gauges no longer count (prometheus-client's multi-process mode)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
