from __future__ import annotations

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
