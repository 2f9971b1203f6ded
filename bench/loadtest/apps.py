from django.apps import AppConfig


class LoadTestConfig(AppConfig):
    """The load generator's Django app: only its ``generate_load_data`` command.
    Installed by the local, test and benchmark settings, never by production."""

    name = "bench.loadtest"
    label = "loadtest"
    verbose_name = "Load data for benchmarks"
