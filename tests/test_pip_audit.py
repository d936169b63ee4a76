"""`.ci/pip_audit.py`: a skip says so and why; a vulnerability, or a run that audited
nothing, fails."""

from __future__ import annotations

import importlib.util
import urllib.error
from pathlib import Path
from types import ModuleType

import pytest

SCRIPT = Path(__file__).resolve().parent.parent / ".ci" / "pip_audit.py"


@pytest.fixture
def pip_audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("ci_pip_audit", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_an_unreachable_database_is_a_skip_that_names_the_reason(pip_audit, monkeypatch, capsys):
    def refuse(*args, **kwargs):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(pip_audit.urllib.request, "urlopen", refuse)
    assert pip_audit.main() == 0
    out = capsys.readouterr().out
    assert out.startswith("pip-audit skipped: vulnerability database unreachable (")
    assert "Name or service not known" in out


def test_a_known_vulnerability_fails_and_is_listed(pip_audit):
    report = {
        "dependencies": [
            {"name": "django", "version": "5.2.0", "vulns": [
                {"id": "PYSEC-2099-1", "fix_versions": ["5.2.1"]}]},
            {"name": "requests", "version": "2.34.2", "vulns": []},
            {"name": "supportability-review", "skip_reason": "editable"},
        ]
    }  # fmt: skip
    status, lines = pip_audit.verdict(report)
    assert status == 1
    assert lines[0] == "pip-audit: 2 packages audited, 1 skipped, 1 known vulnerabilities:"
    assert lines[1] == "  django 5.2.0: PYSEC-2099-1 (fixed in 5.2.1)"


def test_a_run_that_audited_nothing_is_no_pass(pip_audit):
    report = {"dependencies": [{"name": "django", "skip_reason": "not found on PyPI"}]}
    assert pip_audit.verdict(report)[0] == 1


def test_a_clean_audit_passes(pip_audit):
    report = {"dependencies": [{"name": "django", "version": "5.2.19", "vulns": []}]}
    assert pip_audit.verdict(report) == (
        0,
        ["pip-audit: 1 packages audited, 0 skipped, no known vulnerabilities"],
    )
