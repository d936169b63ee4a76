"""Current login lockouts, and a lead's unlock."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from supportability.access import role_required
from supportability.roles import Role
from supportability.services.logins import login_unlock, logins_locked_out


class UnlockForm(forms.Form):
    username = forms.CharField(max_length=150, required=False)
    ip_address = forms.GenericIPAddressField(required=False)

    def clean(self) -> dict[str, str]:
        data = super().clean() or {}
        if bool(data.get("username")) == bool(data.get("ip_address")):
            raise forms.ValidationError("Name either a username or an address to unlock.")
        return data


@role_required(Role.LEAD)
@require_http_methods(["GET", "POST"])
def logins(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = UnlockForm(request.POST)
        if not form.is_valid():
            reason = " ".join(str(error) for errors in form.errors.values() for error in errors)
            return HttpResponse(reason, status=400, content_type="text/plain; charset=utf-8")
        username = form.cleaned_data["username"] or ""
        ip_address = form.cleaned_data["ip_address"] or ""
        cleared = login_unlock(actor=request.user, username=username, ip_address=ip_address)
        who = f"user {username}" if username else f"address {ip_address}"
        if cleared:
            messages.success(request, f"Unlocked {who}: it may log in again.")
        else:
            messages.info(request, f"{who.capitalize()} was not locked out.")
        return redirect("review:logins")
    return render(request, "review/logins.html", {"lockouts": logins_locked_out()})
