"""Production settings refuse to start without their required variables, and
the `make run` path (SQLite, migrate, seed) works. These start subprocesses so
that each gets a clean settings import."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
GOOD = {
    "SECRET_KEY": "x" * 10 + "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ",
    "ALLOWED_HOSTS": "samverkan.example.se",
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/samverkan",
}


def run_manage(*args, env_overrides, settings="config.settings.production"):
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update({"DJANGO_SETTINGS_MODULE": settings, **env_overrides})
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_wsgi_application_is_loaded_and_hidden_from_the_garbage_collector():
    """config/wsgi.py (what gunicorn serves) loads the URLs and translations and
    freezes what is loaded, so that a full garbage collection in a request does
    not walk the whole application (about 70 ms on the load data, #20)."""
    env = {k: v for k, v in os.environ.items() if k not in GOOD}
    env.update({"DJANGO_SETTINGS_MODULE": "config.settings.production", **GOOD})
    code = (
        "import gc, config.wsgi; from django.urls import get_resolver; "
        "print(gc.get_freeze_count(), len(gc.get_objects()), len(get_resolver().reverse_dict) > 0)"
    )
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    frozen, tracked, urls_loaded = done.stdout.split()
    assert int(frozen) > 100_000 and int(tracked) < 1_000 and urls_loaded == "True"


def test_production_settings_start_with_all_variables():
    result = run_manage("check", env_overrides=GOOD)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", sorted(GOOD))
def test_missing_variable_is_named(name):
    env = {k: v for k, v in GOOD.items() if k != name}
    result = run_manage("check", env_overrides=env)
    assert result.returncode != 0
    assert name in result.stderr
    assert "Traceback" not in result.stderr.splitlines()[-1]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("SECRET_KEY", "short"),
        ("DATABASE_URL", "mysql://x@y/z"),
        ("DATABASE_URL", "not a url"),
        ("ALLOWED_HOSTS", "bad host/path"),
        ("EMAIL_URL", "smtp://user@mail.example.se:port"),
    ],
)
def test_malformed_variable_is_named(name, value):
    result = run_manage("check", env_overrides={**GOOD, name: value})
    assert result.returncode != 0
    assert name in result.stderr


def test_make_run_path_on_sqlite(tmp_path):
    """The only SQLite test: the demo's migrate + seed_demo on a fresh file."""
    env = {"DATABASE_URL": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    migrate = run_manage("migrate", "--noinput", env_overrides=env, settings="config.settings.local")
    assert migrate.returncode == 0, migrate.stderr
    seed = run_manage("seed_demo", env_overrides=env, settings="config.settings.local")
    assert seed.returncode == 0, seed.stderr
    assert "samverkan-demo-2026" in seed.stdout
    again = run_manage("seed_demo", env_overrides=env, settings="config.settings.local")
    assert again.returncode == 0 and "Demo users created: 0" in again.stdout
    # The worker beside the server (make run) on the same SQLite file: it sends what was queued,
    # printed to its console, and runs the scheduled jobs.
    code = "from background.mail import queue_email; queue_email(to=['demo@example.se'], subject='Demo', body='Hej!')"
    queued = run_manage("shell", "-c", code, env_overrides=env, settings="config.settings.local")
    assert queued.returncode == 0, queued.stderr
    worker = run_manage(
        "run_worker", "--run-for", "4", "--tick", "1", env_overrides=env, settings="config.settings.local"
    )
    assert worker.returncode == 0, worker.stderr
    assert "To: demo@example.se" in worker.stdout and "Hej!" in worker.stdout
    assert "Scheduled job step_reminders queued" in worker.stderr + worker.stdout

    # The demo keeps its files where production does: in the database (storage.DatabaseStorage), here SQLite.
    files = run_manage(
        "shell",
        "-c",
        "from django.core.files.base import ContentFile; from django.core.files.storage import default_storage as s; "
        "n = s.save('a.pdf', ContentFile(b'%PDF-1.4 demo' * 100000)); "
        "print(type(s._wrapped).__name__, n[:7], s.open(n).read() == b'%PDF-1.4 demo' * 100000)",
        env_overrides=env,
        settings="config.settings.local",
    )
    assert files.returncode == 0, files.stderr
    assert files.stdout.splitlines()[-1].split() == ["DatabaseStorage", "sha256/", "True"]

    # Search on SQLite: plain matching of the agreements a user may see (full-text search is PostgreSQL's).
    found = run_manage(
        "shell",
        "-c",
        "from accounts.models import User; from cases.search.selectors import search; "
        "u = User.objects.get(email='kulturchef@falun.se'); "
        "print(sorted({h.context.split(' · ')[0] for h in search(u, 'Falun').hits}), len(search(u, 'Mora').hits))",
        env_overrides=env,
        settings="config.settings.local",
    )
    assert found.returncode == 0, found.stderr
    assert found.stdout.splitlines()[-1] == "['Falun'] 0"  # her own municipality's, never Mora's

    # The audit log on SQLite: each row said in words (cases.audit.describe reads the rows
    # one by one there, without PostgreSQL's JSON and LATERAL), as the auditor reads it.
    log = run_manage(
        "shell",
        "-c",
        "from django.test import Client; from accounts.models import User; "
        "c = Client(HTTP_HOST='127.0.0.1'); c.force_login(User.objects.get(email='revisor@regiondalarna.se')); "
        "r = c.get('/arbete/granskning/?kind=cases.agreement'); "
        "print(r.status_code, 'ändrat Skede' in r.content.decode())",  # the stage's change, named
        env_overrides=env,
        settings="config.settings.local",
    )
    assert log.returncode == 0, log.stderr
    assert log.stdout.splitlines()[-1] == "200 True"

    # The county overview on SQLite: its ids are sent as an IN list there (cases/lookups.py's
    # ``__any`` is an array only on PostgreSQL): every municipality's row, with its agreement.
    county = run_manage(
        "shell",
        "-c",
        "import re; from django.test import Client; from accounts.models import User; "
        "from cases.models import Agreement; "
        "c = Client(HTTP_HOST='127.0.0.1'); c.force_login(User.objects.get(email='samordnare@regiondalarna.se')); "
        "html = c.get('/arbete/lanet/').content.decode(); body = html.split('<tbody>')[1]; "
        "shown = {(int(pk), number) for pk, number in re.findall(r'overenskommelser/([0-9]+)/\">([^<]+)<', body)}; "
        "print(body.count('<th scope=\"row\">'), len(shown) > 0, "
        "shown == set(Agreement.objects.filter(pk__in=[pk for pk, _ in shown]).values_list('pk', 'case_number')))",
        env_overrides=env,
        settings="config.settings.local",
    )
    assert county.returncode == 0, county.stderr
    assert county.stdout.splitlines()[-1] == "15 True True"
