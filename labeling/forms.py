from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django import forms

from supportability.models import Decision


class LabelForm(forms.Form):
    lease = forms.UUIDField()
    decision = forms.ChoiceField(choices=Decision.choices)
    category = forms.SlugField(required=False, max_length=64)
    rationale = forms.CharField(required=False, max_length=5_000)
    idempotency_key = forms.CharField(max_length=64)


class LeaseForm(forms.Form):
    lease = forms.UUIDField()


class ReviewerSettingsForm(forms.Form):
    """The shortcuts page: on or off, and one key per action (`keymap.<action>`); a box left
    empty keeps that action's default key. The keys are checked by the service, whose
    messages name the field."""

    shortcuts_enabled = forms.BooleanField(required=False)

    def __init__(self, *args: Any, actions: Iterable[str], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for action in actions:
            self.fields[f"keymap.{action}"] = forms.CharField(
                required=False, max_length=16, strip=False
            )

    def keymap(self) -> dict[str, str]:
        return {
            name.removeprefix("keymap."): value
            for name, value in self.cleaned_data.items()
            if name.startswith("keymap.") and value != ""
        }
