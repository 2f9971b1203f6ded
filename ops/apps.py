from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Running it: request ids and JSON logs, health and readiness probes,
    Prometheus metrics, the page shown while the database is unreachable."""

    name = "ops"
    verbose_name = "Operations"

    def ready(self):
        from . import health, metrics

        health.register_builtin_checks()
        metrics.connect_signals()
