"""The Swedish catalogue (locale/sv/LC_MESSAGES/django.po) is complete, current
and compiles: every entry translated and none fuzzy, every msgid that the
source marks for translation present, and `msgfmt --check` clean.

"Current" is judged by running `manage.py makemessages -l sv` in a copy of the
source tree in a temporary folder, so the real catalogue is never touched, and
comparing its msgids with the committed ones. To bring the catalogue up to
date: `python manage.py makemessages -l sv --ignore=.venv --ignore=node_modules`,
translate the new entries (and clear their fuzzy flags), commit."""

import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest
from django.utils import translation
from viewflow.workflow.status import PROCESS, STATUS

ROOT = Path(__file__).resolve().parent.parent
CATALOGUE = ROOT / "locale" / "sv" / "LC_MESSAGES" / "django.po"
# Not source: tools, installed packages, outputs. Dot-folders are skipped too.
NOT_SOURCE = (
    ".*",
    "__pycache__",
    "*.pyc",
    "*.mo",
    "db.sqlite3",
    "node_modules",
    "test-artifacts",
    "staticfiles",
    "media",
    "locale",
)


def label(entry):
    """How an entry is named in a failure: its msgid, with its context if any."""
    return f"{entry.msgctxt} | {entry.msgid}" if entry.msgctxt else entry.msgid


def key(entry):
    return (entry.msgctxt, entry.msgid)


def live(catalogue):
    """The entries in use: not the header, not obsolete (#~)."""
    return [e for e in catalogue if not e.obsolete]


def untranslated(catalogue):
    """Entries with an empty msgstr (or an empty plural form); fuzzy ones are reported apart."""
    return [
        label(e)
        for e in live(catalogue)
        if "fuzzy" not in e.flags and not (all(e.msgstr_plural.values()) if e.msgid_plural else e.msgstr)
    ]


def fuzzy(catalogue):
    """Entries marked fuzzy: gettext does not use them, so the user sees English."""
    return [label(e) for e in live(catalogue) if "fuzzy" in e.flags]


def missing(catalogue, source):
    """msgids marked for translation in the source but absent from the catalogue."""
    have = {key(e) for e in live(catalogue)}
    return [label(e) for e in live(source) if key(e) not in have]


def msgfmt_check(path):
    """Problems that `msgfmt --check` finds (format strings, plural forms, header)."""
    result = subprocess.run(
        ["msgfmt", "--check", "-o", "/dev/null", str(path)], capture_output=True, text=True, check=False
    )
    return [] if result.returncode == 0 else [result.stderr.strip()]


def numbered(items):
    return "\n".join(f"  {item!r}" for item in items)


@pytest.fixture(scope="module")
def committed():
    return polib.pofile(str(CATALOGUE))


@pytest.fixture(scope="module")
def from_source(tmp_path_factory):
    """The Swedish catalogue makemessages builds from the current source, in a
    temporary copy of the tree (settings put LOCALE_PATHS beside the copy)."""
    copy = tmp_path_factory.mktemp("makemessages") / "src"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(*NOT_SOURCE), symlinks=True)
    (copy / "locale").mkdir()
    result = subprocess.run(
        [sys.executable, "manage.py", "makemessages", "--locale", "sv", "--verbosity", "0"],
        cwd=copy,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, f"makemessages failed:\n{result.stdout}\n{result.stderr}"
    return polib.pofile(str(copy / "locale" / "sv" / "LC_MESSAGES" / "django.po"))


def test_every_entry_is_translated(committed):
    gaps = untranslated(committed)
    assert not gaps, f"{len(gaps)} entries of {CATALOGUE.relative_to(ROOT)} have no Swedish:\n{numbered(gaps)}"


def test_no_entry_is_fuzzy(committed):
    flagged = fuzzy(committed)
    assert not flagged, (
        f"{len(flagged)} entries are marked fuzzy (check the Swedish, then remove the flag):\n{numbered(flagged)}"
    )


def test_catalogue_has_every_msgid_of_the_source(committed, from_source):
    absent = missing(committed, from_source)
    assert not absent, (
        f"{len(absent)} msgids in the source are not in {CATALOGUE.relative_to(ROOT)}; "
        f"run makemessages and translate them:\n{numbered(absent)}"
    )


def test_catalogue_compiles_cleanly():
    assert not msgfmt_check(CATALOGUE)


def test_the_checks_pass_on_a_complete_catalogue_and_catch_each_gap(from_source, tmp_path):
    """The checks above can pass (on the source's catalogue translated in full)
    and each catches its fault."""
    complete = polib.pofile(str(from_source.fpath))
    for entry in live(complete):
        if entry.msgid_plural:
            entry.msgstr_plural = {0: entry.msgid, 1: entry.msgid_plural}
        else:
            entry.msgstr = entry.msgid
        if "fuzzy" in entry.flags:
            entry.flags.remove("fuzzy")
    path = tmp_path / "complete.po"
    complete.save(str(path))
    complete = polib.pofile(str(path))
    assert len(live(complete)) > 100
    assert (untranslated(complete), fuzzy(complete), missing(complete, from_source)) == ([], [], [])
    assert msgfmt_check(path) == []

    singular = next(e for e in live(complete) if not e.msgid_plural and not e.msgctxt)
    plural = next(e for e in live(complete) if e.msgid_plural)
    singular.msgstr = ""
    plural.msgstr_plural[1] = ""
    assert untranslated(complete) == [singular.msgid, plural.msgid]
    singular.flags.append("fuzzy")
    assert fuzzy(complete) == [singular.msgid]
    complete.remove(plural)
    assert missing(complete, from_source) == [plural.msgid]

    broken = next(e for e in live(complete) if "python-format" in e.flags and "%(" in e.msgid)
    broken.msgstr = "utan platshållare"
    complete.save(str(path))
    assert msgfmt_check(path), "msgfmt --check catches a translation that drops a %(name)s placeholder"


@pytest.mark.parametrize("status", [*STATUS, *PROCESS], ids=lambda s: f"{type(s).__name__}.{s.value}")
def test_viewflow_statuses_are_shown_in_swedish(status):
    """viewflow ships no Swedish; the step history shows task statuses through
    get_status_display, so our catalogue carries them (msgctxt "STATUS")."""
    with translation.override("en"):
        english = str(status.label)
    with translation.override("sv"):
        swedish = str(status.label)
    assert swedish != english, f"viewflow's status {english!r} has no Swedish in {CATALOGUE.relative_to(ROOT)}"
