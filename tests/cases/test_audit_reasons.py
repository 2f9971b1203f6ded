"""The reasons of history rows are worded once, in accounts/audit_reasons.py:
no other module of the product spells one out, and every reason a service
writes is one of the catalogue's (or a person's own words)."""

import ast
from pathlib import Path

from django.conf import settings

CATALOGUE = Path(settings.BASE_DIR) / "accounts" / "audit_reasons.py"


def msgids(path):
    """The literal msgids of the gettext calls in ``path``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        translated = isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_", "gettext", "gettext_lazy")
        if translated and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str):
            found.add(node.args[0].value)
    return found


def product_modules():
    base = Path(settings.BASE_DIR)
    for package in ("accounts", "background", "cases", "workflows"):
        for path in (base / package).rglob("*.py"):
            relative = path.relative_to(base).as_posix()
            if "migrations" in path.parts or path == CATALOGUE:
                continue
            yield relative, path


def test_the_catalogue_has_the_reasons():
    reasons = msgids(CATALOGUE)
    assert "Draft accepted in municipal review" in reasons
    assert "Follow-up %(year)s handed in" in reasons


def test_no_other_module_words_a_reason():
    reasons = msgids(CATALOGUE)
    twice = {}
    for relative, path in product_modules():
        strings = {
            node.value
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Constant) and isinstance(node.value, str)
        }
        if strings & reasons:
            twice[relative] = sorted(strings & reasons)
    assert twice == {}, f"reasons worded outside accounts/audit_reasons.py: {twice}"


def test_services_write_no_reason_of_their_own():
    """audit_context(reason=...) is given a catalogue entry or a variable (a
    person's words), never a translated literal of its own."""
    written_here = []
    for relative, path in product_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "audit_context":
                for keyword in node.keywords:
                    if keyword.arg == "reason" and any(
                        isinstance(inner, ast.Call) and getattr(inner.func, "id", None) in ("_", "gettext")
                        for inner in ast.walk(keyword.value)
                    ):
                        written_here.append(f"{relative}:{node.lineno}")
    assert written_here == []
