from __future__ import annotations

from django.urls import path

from .views import dashboard, queues

app_name = "review"
urlpatterns = [
    path("", dashboard.dashboard, name="dashboard"),
    path("labels/", dashboard.labels, name="labels"),
    path("retrain/", dashboard.retrain, name="retrain"),
    path("runs/<id:run_id>/", dashboard.run_status, name="run"),
    path("queues/", queues.queues, name="queues"),
    path("queues/<id:queue_id>/", queues.queue_settings, name="queue-settings"),
    path("gold/", queues.gold_create, name="gold-create"),
]
