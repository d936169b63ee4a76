"""The lead's audit page says whether the trail is intact: the last verification, the last
checkpoint and what waits for the sealer, in words; and a lead can verify now."""

from __future__ import annotations

import pytest
from django.test import Client

from supportability.audit import audit_record
from supportability.audit.sealing import audit_seal
from supportability.models import AuditEvent, AuditVerification
from tests.factories import MerchantFactory
from tests.supportability.tamper import as_owner

pytestmark = pytest.mark.django_db

AUDIT = "/lead/audit/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _write(n: int) -> None:
    merchant = MerchantFactory()
    for i in range(n):
        audit_record(actor=None, verb="test.step", target=merchant, after={"i": i})


def test_a_fresh_trail_says_it_is_not_verified_or_anchored_yet(lead):
    html = _client(lead).get(AUDIT).content.decode()
    assert "Not verified yet" in html
    assert "No checkpoint yet" in html


def test_verify_now_checks_the_chain_and_the_page_says_so(lead, django_capture_on_commit_callbacks):
    _write(3)
    audit_seal()
    client = _client(lead)
    with django_capture_on_commit_callbacks(execute=True):  # the outbox runs the task
        response = client.post("/lead/audit/verify/")
    assert response.status_code == 302
    verification = AuditVerification.objects.get()  # eager Celery: already run
    assert (verification.trigger, verification.requested_by, verification.intact) == (
        "lead",
        lead,
        True,
    )
    assert AuditEvent.objects.filter(verb="audit.verification_requested", actor=lead).exists()
    html = client.get(AUDIT).content.decode()
    assert "Intact: 3 sealed events checked up to seq 3" in html
    assert "agreeing with 1 checkpoint(s) up to seq 3" in html
    assert "by a lead (lea)" in html
    assert "Seq 3," in html and "signed" in html


def test_a_broken_chain_is_named_on_the_page(lead, django_capture_on_commit_callbacks):
    _write(4)
    audit_seal()
    as_owner("DELETE FROM supportability_auditevent WHERE seq >= 3")
    client = _client(lead)
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/lead/audit/verify/")
    html = client.get(AUDIT).content.decode()
    assert "Broken at seq 3: events are missing." in html
    assert 'id="integrity-verification" class="error" role="alert"' in html


def test_events_waiting_for_the_sealer_are_counted(lead):
    _write(2)
    html = _client(lead).get(AUDIT).content.decode()
    assert "2 event(s) waiting for the sealer" in html


def test_analysts_cannot_start_a_verification(analyst):
    assert _client(analyst).post("/lead/audit/verify/").status_code == 403
    assert not AuditVerification.objects.exists()


def test_a_store_without_checkpoints_under_a_sealed_chain_is_an_alarm(lead, _own_checkpoints):
    _write(2)
    audit_seal()
    (_own_checkpoints / "audit-checkpoints.jsonl").unlink()
    html = _client(lead).get(AUDIT).content.decode()
    assert "though 2 events are sealed" in html
    assert 'id="integrity-checkpoint" class="error"' in html
