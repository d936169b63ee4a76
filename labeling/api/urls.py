from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("flags/", views.FlagsView.as_view(), name="api-flags"),
    path("queue/claim/", views.ClaimView.as_view(), name="api-claim"),
    path("items/<id:item_id>/labels/", views.ItemLabelsView.as_view(), name="api-item-labels"),
    path("items/<id:item_id>/heartbeat/", views.HeartbeatView.as_view(), name="api-item-heartbeat"),
    path("items/<id:item_id>/release/", views.ReleaseView.as_view(), name="api-item-release"),
    path("labels/", views.LabelListView.as_view(), name="api-labels"),
]
