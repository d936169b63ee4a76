from __future__ import annotations

from django.urls import path

from . import views

app_name = "labeling"
urlpatterns = [
    path("", views.workbench, name="workbench"),
    path("next/", views.claim, name="claim"),
    path("settings/", views.reviewer_settings, name="settings"),
    path("items/<id:item_id>/label/", views.label, name="label"),
    path("items/<id:item_id>/release/", views.release, name="release"),
    path("items/<id:item_id>/heartbeat/", views.heartbeat, name="heartbeat"),
    path("labels/<id:label_id>/undo/", views.undo, name="undo"),
]
