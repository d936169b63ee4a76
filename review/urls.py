from __future__ import annotations

from django.urls import path

from . import views

app_name = "review"
urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("labels/", views.labels, name="labels"),
    path("retrain/", views.retrain, name="retrain"),
    path("runs/<id:run_id>/", views.run_status, name="run"),
    path("queues/", views.queues, name="queues"),
    path("queues/<id:queue_id>/", views.queue_settings, name="queue-settings"),
    path("gold/", views.gold_create, name="gold-create"),
]
