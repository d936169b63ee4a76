"""The retraining chain, composed: which service runs each step.

    snapshot -> train (and calibrate) -> evaluate -> decide -> rescore (one task per chunk
    of merchants, across workers) -> promote -> re-prioritise

The steps' order, the tasks that run them (by name) and the handoff between them are data
in review.services.retrain_steps; the steps themselves are services in
review.services.retraining. Only review.tasks imports this module, and this module imports
no task: the chain has one place where it is put together and no import circle (tests/
test_architecture.py holds both).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .services import retrain_steps, retraining

# The service behind each step's task, keyed by the step's task name (retrain_steps).
STEP_SERVICES: dict[str, Callable[..., Any]] = {
    retrain_steps.STEP_TASKS["snapshot"]: retraining.retrain_snapshot,
    retrain_steps.STEP_TASKS["train"]: retraining.retrain_train,
    retrain_steps.STEP_TASKS["evaluate"]: retraining.retrain_evaluate,
    retrain_steps.STEP_TASKS["decide"]: retraining.retrain_decide,
    retrain_steps.RESCORE_TASK: retraining.rescore_chunk,
    retrain_steps.STEP_TASKS["promote"]: retraining.retrain_promote,
    retrain_steps.STEP_TASKS["reprioritise"]: retraining.retrain_reprioritise,
}


def step_run(task_name: str, **kwargs: Any) -> None:
    """Run the step a task stands for (the task's outbox wrapper made it once-only)."""
    STEP_SERVICES[task_name](**kwargs)


def step_failed(kwargs: dict[str, Any], error: str) -> None:
    """A step raised something other than a transient database error: its run ends failed
    (the champion stays as it was; a lead may retry)."""
    retrain_steps.retrain_failed(run_id=kwargs["run_id"], error=error)
