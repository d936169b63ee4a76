from __future__ import annotations

from django.urls import path

from .views import agreement, audit, audit_trail, dashboard, logins, models, queues, work

app_name = "review"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("labels/", dashboard.labels, name="labels"),
    path("retrain/", dashboard.retrain, name="retrain"),
    path("runs/<id:run_id>/", dashboard.run_status, name="run"),
    path("runs/<id:run_id>/retry/", dashboard.retry, name="run-retry"),
    path("queues/", queues.queues, name="queues"),
    path("queues/<id:queue_id>/", queues.queue_settings, name="queue-settings"),
    path("queues/<id:queue_id>/mix/", queues.queue_mix, name="queue-mix"),
    path("queues/<id:queue_id>/draw/", queues.queue_draw, name="queue-draw"),
    path("gold/", queues.gold_create, name="gold-create"),
    path("audit/", audit.audit_browser, name="audit"),
    path("audit/verify/", audit_trail.audit_verify, name="audit-verify"),
    path("logins/", logins.logins, name="logins"),
    path("audit.csv", audit.audit_csv, name="audit-csv"),
    path("merchants/<id:merchant_id>/", audit.merchant_timeline, name="merchant"),
    path("work/", work.work, name="work"),
    path("work/claim/", work.claim, name="claim"),
    path("work/rules/", work.rules, name="rules"),
    path("items/<id:item_id>/", work.item, name="item"),
    path("items/<id:item_id>/adjudicate/", work.adjudicate, name="adjudicate"),
    path("items/<id:item_id>/signoff/", work.signoff, name="signoff"),
    path("items/<id:item_id>/audit/", work.audit, name="qa-audit"),
    path("items/<id:item_id>/release/", work.release, name="release"),
    path("items/<id:item_id>/heartbeat/", work.heartbeat, name="heartbeat"),
    path("adjudications/<id:adjudication_id>/reopen/", work.reopen, name="reopen"),
    path("agreement/", agreement.agreement, name="agreement"),
    path("agreement.csv", agreement.agreement_csv, name="agreement-csv"),
    path("agreement/recompute/", agreement.recompute, name="recompute"),
    path("models/", models.models, name="models"),
    path("models/<id:model_id>/", models.model, name="model"),
    path("models/<id:model_id>/promote/", models.promote, name="model-promote"),
    path("models/<id:model_id>/reject/", models.reject, name="model-reject"),
]
