"""The lead's writes, by sub-domain: retraining, lead work (claims on escalations, sign-offs
and audits), adjudication, QA audits, review rules and the periodic quality statistics."""

from __future__ import annotations

from .adjudication import (
    Decided,
    adjudication_reopen,
    adjudication_signoff,
    adjudication_submit,
)
from .candidates import candidate_promote, candidate_reject
from .clean_labels import clean_labels_refresh, snapshot_from_clean_labels
from .errors import Conflict, InvalidInput, LeaseLost, NotAllowed
from .label_noise import noise_check, second_looks
from .lead_work import Work, lead_claim, lead_release, lead_work_counts, work_of
from .qa import qa_audit_record, qa_audits_draw
from .quality import quality_compute, quality_recompute_request
from .rereview import rereview_crossed, rereview_text_changed
from .retrain_data import training_rows
from .retrain_runs import (
    RetrainBusy,
    retrain_execute,
    retrain_if_due,
    retrain_retry,
    retrain_start,
    runs_recover,
)
from .retrain_steps import DEMO_MODEL_NAME
from .rules import review_settings_update
from .sampling import bandit_evidence, queue_draw_now, queue_top_up, queues_top_up
from .similar_index import similar_index_refresh

__all__ = [
    "DEMO_MODEL_NAME",
    "Conflict",
    "Decided",
    "InvalidInput",
    "LeaseLost",
    "NotAllowed",
    "RetrainBusy",
    "Work",
    "adjudication_reopen",
    "adjudication_signoff",
    "adjudication_submit",
    "bandit_evidence",
    "candidate_promote",
    "candidate_reject",
    "clean_labels_refresh",
    "lead_claim",
    "lead_release",
    "lead_work_counts",
    "noise_check",
    "qa_audit_record",
    "qa_audits_draw",
    "quality_compute",
    "quality_recompute_request",
    "queue_draw_now",
    "queue_top_up",
    "queues_top_up",
    "rereview_crossed",
    "rereview_text_changed",
    "retrain_execute",
    "retrain_if_due",
    "retrain_retry",
    "retrain_start",
    "review_settings_update",
    "runs_recover",
    "second_looks",
    "similar_index_refresh",
    "snapshot_from_clean_labels",
    "training_rows",
    "work_of",
]
