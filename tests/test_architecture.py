"""Rules of the code base that a reviewer would otherwise have to remember."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APPS = ("supportability", "labeling", "review")
# The only module that hands messages to the broker.
RELAY = ROOT / "supportability" / "outbox.py"
BROKER_CALLS = {"delay", "apply_async", "send_task", "s", "si", "signature"}


def _broker_calls(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    return [
        f"{path.relative_to(ROOT)}:{node.lineno} .{node.func.attr}()"
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in BROKER_CALLS
    ]


def test_nothing_but_the_outbox_relay_talks_to_the_broker():
    """Follow-up work is an outbox message written with its change; `.delay()` and
    friends anywhere else would put the broker back on a request's path."""
    found = [
        call
        for app in APPS
        for path in sorted((ROOT / app).rglob("*.py"))
        if path != RELAY and "migrations" not in path.parts
        for call in _broker_calls(path)
    ]
    assert found == []
