"""A lead's "Verify now" on the audit page: the worker walks the chain."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.views.decorators.http import require_POST

from supportability.access import role_required
from supportability.roles import Role
from supportability.services.audit_checks import audit_verification_request


@require_POST
@role_required(Role.LEAD)
def audit_verify(request: HttpRequest) -> HttpResponse:
    audit_verification_request(user=request.user)
    messages.info(request, "Verification started: reload in a moment to see its result.")
    return redirect("review:audit")
