"""Django settings for bench/retrain.py --smoke: production's, with a Celery queue of the
run's own (BENCH_CELERY_QUEUE). On a Redis that others use (CI's worker tests, a second
run), its workers then take only its tasks, and its purge empties only its queue."""

from __future__ import annotations

import os

from supportability.settings.production import *  # noqa: F403

CELERY_TASK_DEFAULT_QUEUE = os.environ["BENCH_CELERY_QUEUE"]
# Real workers do the rescoring: an eager flag inherited from a test run must not leak in.
CELERY_TASK_ALWAYS_EAGER = False
