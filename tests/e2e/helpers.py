"""Helpers for the e2e tests' assertions."""


def describe(violations):
    """Readable lines for an assertion message: rule, impact, what, where."""
    lines = []
    for v in violations:
        targets = ", ".join(" ".join(map(str, node["target"])) for node in v["nodes"][:5])
        lines.append(f"{v['id']} ({v['impact']}): {v['help']} – {targets} – {v['helpUrl']}")
    return "\n".join(lines)
