"""Every benchmark's `--smoke` mode, run as a script: a benchmark that a schema or API change
broke fails here instead of at its next full run. The PostgreSQL ones make (and drop) a
database of their own beside DATABASE_URL's, never the test database; their timings are
printed, never asserted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.bench

ROOT = Path(__file__).resolve().parents[1]
TIMEOUT = 240  # seconds; each takes 2-20 s alone on 2 cores
# Set in this process by the test settings; a benchmark picks its own settings, and its
# Celery tasks must not run eagerly.
TEST_ONLY = ("DJANGO_SETTINGS_MODULE", "CELERY_TASK_ALWAYS_EAGER")

SCRIPTS = [
    pytest.param("ml_model", r'"holdout_roc_auc": 0\.\d+', id="ml_model"),
    pytest.param(
        "active_learning", r"Targets: mix/uncertainty labels .* coverage IPW", id="active_learning"
    ),
    pytest.param(
        "label_noise", r"\| PR-AUC, model on the truth \(same items\) \| 0\.\d+", id="label_noise"
    ),
    pytest.param("similar", r"queries over 3,000 merchants \(k=5\): p50 ", id="similar"),
    pytest.param("pages", r"\| lead overview \(GET /lead/\) \| 12 \|", id="pages"),
    pytest.param("queue", r"\| duplicates \| 0 \|", marks=pytest.mark.postgres, id="queue"),
    pytest.param(
        "audit", r"verified after sealed: [\d,]+ events", marks=pytest.mark.postgres, id="audit"
    ),
    pytest.param(
        "sampling", r"N=500 .* drawn \[\d+, \d+\]", marks=pytest.mark.postgres, id="sampling"
    ),
    pytest.param(
        "review_quality",
        r"quality_compute: .* over \d+ labels, \d+ analyst pairs",
        marks=pytest.mark.postgres,
        id="review_quality",
    ),
    pytest.param(
        "faults",
        r"\| unsent after the relay's next tick \| 0 \|",
        marks=pytest.mark.postgres,
        id="faults",
    ),
    pytest.param(
        "retrain",
        r"\| merchants rescored \| 2,600 \|",
        marks=[pytest.mark.postgres, pytest.mark.redis],
        id="retrain",
    ),
]


def run_smoke(script: str, scratch: Path) -> subprocess.CompletedProcess[str]:
    """`python bench/<script>.py --smoke`, its output in files: a process it leaves behind (a
    server in a session of its own) cannot hold the test up by keeping a pipe open."""
    env = {k: v for k, v in os.environ.items() if k not in TEST_ONLY}
    command = [sys.executable, str(ROOT / "bench" / f"{script}.py"), "--smoke"]
    out, err = scratch / "stdout", scratch / "stderr"
    with out.open("w") as stdout, err.open("w") as stderr:
        process = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=stdout, stderr=stderr, start_new_session=True
        )
        try:
            process.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            stop(process)
            pytest.fail(f"{script} --smoke took over {TIMEOUT} s\n{tail(out)}\n{tail(err)}")
    return subprocess.CompletedProcess(
        command, process.returncode, out.read_text(), err.read_text()
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM first, so that the script drops its database and stops its workers; SIGKILL
    for whatever is left of its process group."""
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def tail(path: Path) -> str:
    return f"--- {path.name}\n{path.read_text()[-4000:]}"


@pytest.mark.parametrize(("script", "summary"), SCRIPTS)
def test_benchmark_smoke_run_succeeds(script: str, summary: str, tmp_path: Path) -> None:
    result = run_smoke(script, tmp_path)
    output = f"{tail(tmp_path / 'stdout')}\n{tail(tmp_path / 'stderr')}"
    assert result.returncode == 0, output
    assert re.search(summary, result.stdout), output


def test_every_benchmark_script_has_a_smoke_run() -> None:
    runnable = {
        path.stem
        for path in (ROOT / "bench").glob("*.py")
        if 'if __name__ == "__main__":' in path.read_text(encoding="utf-8")
    }
    assert runnable == {param.values[0] for param in SCRIPTS}
