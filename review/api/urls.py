from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("snapshots/", views.SnapshotListView.as_view(), name="api-snapshots"),
    path("snapshots/<id:snapshot_id>/", views.SnapshotDetailView.as_view(), name="api-snapshot"),
    path(
        "snapshots/<id:snapshot_id>/rows",
        views.SnapshotRowsView.as_view(),
        name="api-snapshot-rows",
    ),
    path("clean-labels/", views.CleanLabelListView.as_view(), name="api-clean-labels"),
]
