from __future__ import annotations

from django.urls import path

from . import views

urlpatterns = [
    path("flags/", views.FlagsView.as_view(), name="api-flags"),
    path("queue/claim/", views.ClaimView.as_view(), name="api-claim"),
    path("items/<int:item_id>/labels/", views.ItemLabelsView.as_view(), name="api-item-labels"),
    path("labels/", views.LabelListView.as_view(), name="api-labels"),
]
