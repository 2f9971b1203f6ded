"""Helpers for the e2e tests' assertions."""


def serious(violations):
    """The violations whose impact is serious or critical."""
    return [v for v in violations if v["impact"] in ("serious", "critical")]


def describe(violations):
    """Readable lines for an assertion message: rule, impact, what, where."""
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} – {targets} – {v['helpUrl']}")
    return "\n".join(lines)
