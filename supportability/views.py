from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect

from .roles import LABELLERS, Role, has_role


@login_required
def home(request: HttpRequest) -> HttpResponse:
    if has_role(request.user, Role.LEAD):
        return redirect("review:dashboard")
    if has_role(request.user, *LABELLERS):
        return redirect("labeling:workbench")
    raise PermissionDenied("This account has no browser role.")


def health(request: HttpRequest) -> JsonResponse:
    return JsonResponse({"status": "ok"})
