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


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports at module level (not inside functions: those run
    later and can't make a circle at import time, but are counted for the chain rule)."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = _module_name(path) if path.name == "__init__.py" else _module_name(path.parent)
    found: set[str] = set()
    for node in tree.body:
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(anchor + ([node.module] if node.module else []))
            # `from package import module` needs the module (the package is already being
            # imported when a module inside it runs); anything else needs `base` itself.
            submodules = {f"{base}.{alias.name}" for alias in node.names} & modules
            found.update(submodules)
            if len(submodules) < len(node.names):
                found.add(base)
    return found


def _project_graph() -> dict[str, set[str]]:
    paths = [
        path
        for app in APPS
        for path in (ROOT / app).rglob("*.py")
        if "migrations" not in path.parts
    ]
    names = {_module_name(path): path for path in paths}
    modules = set(names)
    return {name: _imports(path, modules) & modules for name, path in names.items()}


def _importers_anywhere(target: str) -> list[str]:
    """Every module of the apps that imports `target`, at any depth (inside functions too)."""
    found = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.module:
                    names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level:
                    names = [f".{a.name}" for a in node.names]
                if any(n == target or n.endswith(f".{target.rsplit('.', 1)[-1]}") for n in names):
                    found.append(_module_name(path))
    return sorted(set(found) - {target})


def test_the_retraining_chain_is_composed_in_one_module_only_the_tasks_import():
    assert _importers_anywhere("review.chain") == ["review.tasks"]


def test_no_module_of_the_apps_imports_itself_back_through_others():
    """No import circle: each module's imports, followed transitively, never lead back to
    it (the circle between the retraining services and the tasks is gone, and stays gone)."""
    graph = _project_graph()
    # A package and the modules it re-exports are one unit: `services/__init__` importing
    # `services.x` is not a circle; a module importing its own package (`from . import y`
    # inside the package) is, when that package imports it back.
    circles = []
    for start in graph:
        stack, seen = [(start, (start,))], set()
        while stack:
            node, path = stack.pop()
            for nxt in graph.get(node, ()):
                if nxt == start and not start.startswith(f"{nxt}."):
                    circles.append(" -> ".join((*path, nxt)))
                elif nxt not in seen and not start.startswith(f"{nxt}."):
                    seen.add(nxt)
                    stack.append((nxt, (*path, nxt)))
    assert circles == []
