"""Audit events read as sentences, with readable changes, and never show secrets or raw
dicts: every verb the code writes goes through the audit browser, the overview and a
merchant's timeline here."""

from __future__ import annotations

import csv
import io
import re
import uuid
from pathlib import Path

import pytest

from review.models import ReReview
from review.pages.audit_fields import redact
from review.pages.audit_words import audit_line, names_for
from review.services import Work
from supportability.audit import audit_record
from supportability.models import AuditEvent
from tests.clients import logged_in
from tests.factories import MerchantFactory, ModelVersionFactory, QueueFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
UUID = re.compile(r"[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}", re.I)
SCORE_ROW = 987_654  # a Score's row id, as item.enqueue records it


def written_verbs() -> set[str]:
    """Every verb an audit_record / audit_event call in the apps writes, read from the
    source: literals, both arms of a conditional, and the f-string families expanded."""
    verbs: set[str] = set()
    for app in ("supportability", "labeling", "review"):
        for path in (ROOT / app).rglob("*.py"):
            if "migrations" in path.parts or "tests" in path.parts:
                continue
            for line in path.read_text().splitlines():
                if "verb=" not in line or "filter" in line or "verb=verb" in line:
                    continue
                expression = line.split("verb=", 1)[1]
                verbs.update(re.findall(r'"([a-z_]+(?:\.[a-z_{}]+)+)"', expression))
    expanded = set()
    for verb in verbs:
        if verb == "lead.claim.{work}":
            expanded |= {f"lead.claim.{w}" for w in Work}
        elif verb == "re_review.{reason}":
            expanded |= {f"re_review.{r}" for r in ReReview.Reason.values}
        else:
            expanded.add(verb)
    return expanded


def test_the_source_scan_finds_the_verbs():
    verbs = written_verbs()
    assert {"label.submit", "item.claim", "adjudication.signoff_refused", "model.promote"} <= verbs
    assert "lead.claim.adjudicate" in verbs and not any("{" in v for v in verbs)


def _secret_state(token: str) -> dict:
    """A state with every kind of secret a service might put in an event, and the common
    fields a sentence shows."""
    return {
        "status": "leased",
        "decision": "prohibited",
        "category": "gambling",
        "lease": token,
        "token": f"sr_{uuid.uuid4().hex}",
        "idempotency_key": uuid.uuid4().hex,
        "key_sha256": "ab" * 32,
        "password": "hunter2-secret",
        "score": SCORE_ROW,
        "priority": 0.72,
        "analyst": None,
        "nested": {"lease": token, "ok": 1},
    }


@pytest.fixture
def every_verb(lead):
    merchant = MerchantFactory(external_id="M-1042", name="Lucky Spin")
    queue = QueueFactory(name="General")
    model = ModelVersionFactory(name="supportability-demo", version="3")
    tokens = []
    for verb in sorted(written_verbs()):
        token = str(uuid.uuid4())
        tokens.append(token)
        target = (
            queue
            if verb.startswith("queue.update")
            else model
            if verb.startswith("model.")
            else merchant
        )
        audit_record(
            actor=lead,
            verb=verb,
            target=target,
            merchant_id=merchant.pk,
            before=_secret_state(token) | {"priority": 0.31},
            after=_secret_state(token),
        )
    return merchant, tokens


def _region(html: str, start: str, end: str) -> str:
    region = html[html.index(start) :]
    return region[: region.index(end)]


def _assert_clean(text: str, tokens: list[str]) -> None:
    assert "{" not in text and "}" not in text
    assert "token" not in text.lower()
    assert "hunter2" not in text
    assert not UUID.search(text), UUID.search(text)
    assert str(SCORE_ROW) not in text and f"{SCORE_ROW:,}" not in text
    for token in tokens:
        assert token not in text


def test_audit_browser_shows_every_verb_without_secrets_or_dicts(lead, every_verb):
    _, tokens = every_verb
    html = logged_in(lead).get("/lead/audit/", {"verb": ""}).content.decode()
    table = _region(html, '<table id="audit-table"', "</table>")
    assert table.count("data-event=") == len(written_verbs())
    _assert_clean(re.sub(r'data-(event|verb)="[^"]*"', "", table), tokens)


def test_merchant_timeline_shows_every_verb_without_secrets_or_dicts(lead, every_verb):
    merchant, tokens = every_verb
    html = logged_in(lead).get(f"/lead/merchants/{merchant.pk}/").content.decode()
    _assert_clean(_region(html, '<ol class="timeline"', "</ol>"), tokens)


def test_overview_shows_the_latest_events_without_secrets(lead, every_verb):
    _, tokens = every_verb
    html = logged_in(lead).get("/lead/").content.decode()
    lines = _region(html, '<ul class="event-lines"', "</ul>")
    assert lines.count("<li") == 6
    _assert_clean(re.sub(r'data-event="\d+"', "", lines), tokens)


def test_csv_keeps_raw_fields_but_drops_secrets(lead, every_verb):
    _, tokens = every_verb
    response = logged_in(lead).get("/lead/audit.csv")
    body = b"".join(response.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(body)))
    # Every verb, then the download's own event (written before its first byte).
    assert len(rows) == len(written_verbs()) + 1 and rows[-1]["verb"] == "export.audit"
    assert '"priority":0.72' in rows[0]["after"]  # raw JSON, for examiners
    for token in tokens:
        assert token not in body
    assert "idempotency" not in body and "hunter2" not in body and "key_sha256" not in body


def _event(verb, *, actor=None, merchant=None, before=None, after=None, target=None):
    return audit_record(
        actor=actor,
        verb=verb,
        target=target or merchant,
        merchant_id=merchant.pk if merchant else None,
        before=before,
        after=after,
    )


def test_a_label_reads_as_who_labelled_which_merchant_what(analyst):
    merchant = MerchantFactory(external_id="M-1042")
    event = _event(
        "label.submit",
        actor=analyst,
        merchant=merchant,
        before={"status": "leased", "label_count": 0},
        after={
            "item": 12,
            "decision": "prohibited",
            "category": "gambling",
            "status": "done",
            "label_count": 1,
        },
    )
    line = audit_line(event, names_for([event]))
    assert line.sentence == "analyst ana labelled M-1042 prohibited: gambling"
    assert [c.text for c in line.changes] == ["with an analyst → done", "0 → 1"]


def test_an_undo_reads_as_the_label_taken_back(analyst):
    merchant = MerchantFactory(external_id="M-1042")
    event = _event(
        "label.undo",
        actor=analyst,
        merchant=merchant,
        before={"label": 7, "decision": "prohibited", "category": "gambling", "status": "done"},
        after={"status": "leased", "label_count": 0, "lease": 9},
    )
    line = audit_line(event, names_for([event]))
    assert line.sentence == "analyst ana took back their label on M-1042 (prohibited: gambling)"


def test_an_adjudication_and_a_promotion_read_as_the_leads_acts(lead):
    merchant = MerchantFactory(external_id="M-7")
    adjudicated = _event(
        "adjudication.submit",
        actor=lead,
        merchant=merchant,
        before={"item_status": "escalated", "labels": ["restricted/gambling", "supportable/none"]},
        after={
            "decision": "restricted",
            "category": "gambling",
            "status": "final",
            "upheld_label": 55,
        },
    )
    model = ModelVersionFactory(name="supportability-demo", version="3")
    promoted = _event("model.promote", actor=lead, target=model, after={"champion": "x"})
    names = names_for([adjudicated, promoted])
    line = audit_line(adjudicated, names)
    assert line.sentence == "lead lea adjudicated M-7: restricted: gambling"
    assert "labels restricted: gambling, supportable (before)" in [
        f"{c.label} {c.text}" for c in line.changes
    ]
    assert "55" not in " ".join(c.text for c in line.changes)  # a label's row id
    assert audit_line(promoted, names).sentence == "lead lea promoted model supportability-demo@3"


def test_a_priority_change_reads_old_to_new():
    merchant = MerchantFactory(external_id="M-9")
    event = _event(
        "item.reflag",
        merchant=merchant,
        before={"priority": 0.31, "score": 2562, "propensity": 0.5, "reason": "risk"},
        after={"priority": 0.72, "score": 2563, "propensity": 0.5, "reason": "risk"},
    )
    line = audit_line(event, names_for([event]))
    assert line.sentence == "system flagged M-9 again"
    assert [(c.label, c.text) for c in line.changes] == [("priority", "0.31 → 0.72")]


def test_an_unknown_verb_is_still_a_sentence_with_only_common_fields():
    merchant = MerchantFactory(external_id="M-3")
    event = _event(
        "odd.thing",
        merchant=merchant,
        after={"status": "done", "secret_key": "x", "blob": {"a": 1}},
    )
    line = audit_line(event, names_for([event]))
    assert line.sentence == "system did odd.thing to M-3"
    assert [(c.label, c.text) for c in line.changes] == [("status", "done")]


def test_redact_drops_denied_keys_and_uuids_at_any_depth():
    token = str(uuid.uuid4())
    assert redact({"lease": token, "a": [{"token": 1, "b": token}], "c": 2}) == {
        "a": [{"b": "(withheld)"}],
        "c": 2,
    }


def test_names_cost_at_most_a_query_per_kind(lead, django_assert_max_num_queries):
    merchant = MerchantFactory()
    events = [_event("item.claim", actor=lead, merchant=merchant) for _ in range(5)]
    events = list(AuditEvent.objects.filter(pk__in=[e.pk for e in events]))
    with django_assert_max_num_queries(2):  # users, their groups
        names_for(events)


def _texts(line):
    return [f"{c.label} {c.text}" for c in line.changes]


def test_a_refused_request_reads_as_who_was_refused_what(analyst):
    after = {
        "method": "GET",
        "path": "/lead/items/42/",
        "route": "review:item",
        "via": "session",
        "status": 403,
        "kwargs": {"item_id": "42"},
    }
    event = _event("access.denied", actor=analyst, target=analyst, after=after)
    line = audit_line(event, names_for([event]))
    assert line.sentence == "analyst ana was refused item 42"
    assert _texts(line) == [
        "status 403",
        "method GET",
        "path /lead/items/42/",
        "route review:item",
        "via session",
    ]


def test_a_tokens_use_and_refusal_read_without_the_word_token(lead):
    used = _event(
        "token.used",
        actor=lead,
        target=lead,
        after={"name": "trainer", "method": "GET", "path": "/api/v1/", "ip_address": "10.1.2.3"},
    )
    refused = _event(
        "token.refused",
        target=lead,
        after={"name": "trainer", "method": "GET", "path": "/api/v1/", "reason": "revoked"},
    )
    names = names_for([used, refused])
    assert audit_line(used, names).sentence == "lead lea used API credential trainer"
    assert "from 10.1.2.3" in _texts(audit_line(used, names))
    line = audit_line(refused, names)
    assert line.sentence == "a request with API credential trainer was refused (revoked)"
    assert "token" not in line.sentence.lower()


def test_downloads_read_as_what_was_downloaded_in_which_format(lead):
    snapshot = _event(
        "export.snapshot",
        actor=lead,
        target=lead,
        after={"format": "jsonl", "route": "api-snapshot-rows", "via": "token:trainer"},
    )
    audit = _event(
        "export.audit",
        actor=lead,
        target=lead,
        after={"format": "csv", "via": "session", "filters": {"verb": "label."}},
    )
    names = names_for([snapshot, audit])
    line = audit_line(snapshot, names)
    assert line.sentence == f"lead lea downloaded label snapshot {lead.pk} as JSONL"
    assert "via API credential trainer" in _texts(line)
    line = audit_line(audit, names)
    assert line.sentence == "lead lea downloaded the audit trail as CSV"
    assert _texts(line) == ["filters verb label.", "via session"]


def test_a_verification_reads_as_its_outcome():
    merchant = MerchantFactory()
    event = audit_record(
        actor=None,
        verb="audit.verified",
        target=merchant,
        after={"intact": False, "events": 41, "broken_kind": "rewritten", "broken_seq": 12},
    )
    assert audit_line(event).sentence == "system verified the audit trail: broken"
    event.after = {"intact": True, "events": 41}
    assert audit_line(event).sentence == "system verified the audit trail: intact"
