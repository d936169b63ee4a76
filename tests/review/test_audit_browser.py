from __future__ import annotations

import csv
import io
import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.test import Client

from labeling import services as labeling
from supportability.audit import audit_event, audit_record, audit_record_many
from supportability.models import AuditEvent
from tests.clients import logged_in
from tests.factories import (
    MerchantFactory,
    ModelVersionFactory,
    ReviewItemFactory,
    ScoreFactory,
)

pytestmark = pytest.mark.django_db

AUDIT = "/lead/audit/"
CSV = "/lead/audit.csv"


def _event(verb, *, actor=None, merchant=None, before=None, after=None, at=None, **extra):
    """One audit event, written the way services write them (at a given time, if asked)."""
    fields = {
        "actor": actor,
        "verb": verb,
        "target": merchant or MerchantFactory(),
        "merchant_id": merchant.pk if merchant else None,
        "before": before,
        "after": after,
        **extra,
    }
    if at is None:
        return audit_record(**fields)
    event = audit_event(**fields)
    event.created_at = at
    audit_record_many([event])
    return event


def _event_ids(response) -> list[int]:
    return [int(pk) for pk in re.findall(r'data-event="(\d+)"', response.content.decode())]


def _csv_rows(response) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


def test_audit_pages_are_lead_only_and_timelines_open_to_analysts(analyst, lead):
    from tests.factories import clean_label

    merchant = MerchantFactory()
    clean_label(merchant)  # decided: analysts reach its timeline from a past decision
    timeline = f"/lead/merchants/{merchant.pk}/"
    for url in (AUDIT, CSV, timeline):
        anonymous = Client().get(url)
        assert anonymous.status_code == 302
        assert anonymous["Location"].startswith("/login/?next=")
        assert logged_in(lead).get(url).status_code == 200
    assert logged_in(analyst).get(AUDIT).status_code == 403
    assert logged_in(analyst).get(CSV).status_code == 403
    # The similar-decisions panel links analysts here: read-only and blind (test_timeline_blind).
    assert logged_in(analyst).get(timeline).status_code == 200


def test_unknown_merchant_timeline_is_404(lead):
    assert logged_in(lead).get("/lead/merchants/999999/").status_code == 404


def test_nav_links_to_the_audit_browser_for_leads_only(analyst, lead):
    assert 'href="/lead/audit/"' in logged_in(lead).get("/lead/").content.decode()
    assert 'href="/lead/audit/"' not in logged_in(analyst).get("/queue/").content.decode()


def test_page_lists_events_newest_first_with_merchant_links(lead):
    merchant = MerchantFactory(name="Peptide Lab")
    first = _event("item.enqueue", merchant=merchant, after={"status": "queued"})
    second = _event("item.claim", actor=lead, merchant=merchant, before={"status": "queued"})
    response = logged_in(lead).get(AUDIT)
    html = response.content.decode()
    assert _event_ids(response) == [second.pk, first.pk]
    assert f'href="/lead/merchants/{merchant.pk}/"' in html
    assert "Peptide Lab" in html
    assert f"lead {lead.username} opened {merchant.external_id} to label it" in html
    assert "<b>status</b> queued (before)" in html  # the state it recorded, in words


def test_actor_filter_keeps_only_that_actors_events(analyst, lead):
    by_ana = _event("item.claim", actor=analyst)
    by_lea = _event("queue.update", actor=lead)
    by_system = _event("lease.expire")
    assert _event_ids(logged_in(lead).get(AUDIT, {"actor": "ana"})) == [by_ana.pk]
    assert _event_ids(logged_in(lead).get(AUDIT, {"actor": "system"})) == [by_system.pk]
    assert by_lea.pk in _event_ids(logged_in(lead).get(AUDIT, {"actor": "lea"}))


def test_actor_filter_finds_a_renamed_users_older_events(analyst, lead):
    event = _event("item.claim", actor=analyst)
    analyst.username = "ana-renamed"
    analyst.save(update_fields=["username"])
    assert _event_ids(logged_in(lead).get(AUDIT, {"actor": "ana-renamed"})) == [event.pk]


def test_verb_filter_is_exact_or_a_family_prefix(lead):
    submit = _event("label.submit")
    _event("labelling.other")
    claim = _event("item.claim")
    release = _event("item.release")
    assert _event_ids(logged_in(lead).get(AUDIT, {"verb": "item.claim"})) == [claim.pk]
    assert _event_ids(logged_in(lead).get(AUDIT, {"verb": "item."})) == [release.pk, claim.pk]
    assert _event_ids(logged_in(lead).get(AUDIT, {"verb": "label.*"})) == [submit.pk]


def test_merchant_filter_takes_an_external_id_or_part_of_a_name(lead):
    shop = MerchantFactory(external_id="M-42", name="Lucky Spins Casino")
    other = MerchantFactory(external_id="M-43", name="Garden Tools")
    on_shop = _event("item.enqueue", merchant=shop)
    _event("item.enqueue", merchant=other)
    _event("queue.update")
    assert _event_ids(logged_in(lead).get(AUDIT, {"merchant": "M-42"})) == [on_shop.pk]
    assert _event_ids(logged_in(lead).get(AUDIT, {"merchant": "spins"})) == [on_shop.pk]


def test_category_filter_matches_the_category_before_or_after(lead):
    labelled = _event("label.submit", after={"category": "gambling", "decision": "restricted"})
    changed = _event("adjudication.decide", before={"category": "gambling"}, after={"x": 1})
    _event("label.submit", after={"category": "weapons"})
    _event("queue.update", after={"gold_rate": 0.1})
    ids = _event_ids(logged_in(lead).get(AUDIT, {"category": "gambling"}))
    assert ids == [changed.pk, labelled.pk]


def test_date_filter_takes_whole_days_in_the_site_time_zone(lead, settings):
    settings.TIME_ZONE = "Europe/Paris"
    paris = ZoneInfo("Europe/Paris")
    _event("a.too_early", at=datetime(2024, 3, 1, 23, 59, tzinfo=paris))
    start = _event("a.first_day", at=datetime(2024, 3, 2, 0, 0, tzinfo=paris))
    end = _event("a.last_day", at=datetime(2024, 3, 3, 23, 59, 59, tzinfo=paris))
    _event("a.too_late", at=datetime(2024, 3, 4, 0, 0, tzinfo=paris))
    response = logged_in(lead).get(AUDIT, {"date_from": "2024-03-02", "date_to": "2024-03-03"})
    assert _event_ids(response) == [end.pk, start.pk]


def test_bad_date_is_400_naming_the_field_and_shows_no_rows(lead):
    _event("item.claim")
    response = logged_in(lead).get(AUDIT, {"date_from": "2024-02-31"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field="date_from"' in html
    assert 'id="audit-filters"' in html  # the page, re-rendered
    assert _event_ids(response) == []


def test_dates_out_of_order_are_400_on_date_to(lead):
    response = logged_in(lead).get(AUDIT, {"date_from": "2024-03-02", "date_to": "2024-03-01"})
    assert response.status_code == 400
    assert 'data-field="date_to"' in response.content.decode()


def test_unknown_category_is_400_naming_the_field(lead):
    _event("label.submit", after={"category": "gambling"})
    response = logged_in(lead).get(AUDIT, {"category": "no-such-thing"})
    assert response.status_code == 400
    assert 'data-field="category"' in response.content.decode()
    assert _event_ids(response) == []


def test_htmx_request_gets_only_the_rows_fragment(lead):
    event = _event("item.claim")
    response = logged_in(lead).get(AUDIT, {"verb": "item.claim"}, headers={"HX-Request": "true"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html
    assert 'id="audit-filters"' not in html
    assert _event_ids(response) == [event.pk]
    assert "HX-Request" in response["Vary"]


def test_htmx_bad_filter_gets_the_errors_in_the_fragment(lead):
    response = logged_in(lead).get(AUDIT, {"date_to": "nope"}, headers={"HX-Request": "true"})
    assert response.status_code == 400
    html = response.content.decode()
    assert "<html" not in html
    assert 'data-field="date_to"' in html


def test_htmx_history_restore_gets_the_whole_page(lead):
    response = logged_in(lead).get(
        AUDIT, headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert 'id="audit-filters"' in response.content.decode()


def test_keyset_pagination_pages_back_without_overlap(lead):
    merchant = MerchantFactory()
    audit_record_many(
        audit_event(actor=None, verb="item.enqueue", target=merchant, merchant_id=merchant.pk)
        for _ in range(105)
    )
    other = _event("queue.update")  # filtered out: must not take a place on either page
    client = logged_in(lead)
    first = client.get(AUDIT, {"verb": "item.enqueue"})
    first_ids = _event_ids(first)
    assert len(first_ids) == 100
    assert first_ids == sorted(first_ids, reverse=True)
    older = re.search(r'id="audit-older" rel="next" href="([^"]+)"', first.content.decode())
    assert older is not None
    url = older.group(1).replace("&amp;", "&")
    assert "verb=item.enqueue" in url
    assert f"before={first_ids[-1]}" in url
    second = client.get(url)
    second_ids = _event_ids(second)
    assert len(second_ids) == 5
    assert max(second_ids) < min(first_ids)
    assert other.pk not in first_ids + second_ids
    assert 'id="audit-older"' not in second.content.decode()


def test_goto_opens_a_merchants_timeline_by_external_id(lead):
    merchant = MerchantFactory(external_id="EXT-7")
    response = logged_in(lead).get(AUDIT, {"goto": "EXT-7"})
    assert response.status_code == 302
    assert response["Location"] == f"/lead/merchants/{merchant.pk}/"
    missing = logged_in(lead).get(AUDIT, {"goto": "EXT-8"})
    assert missing.status_code == 404
    assert 'data-field="goto"' in missing.content.decode()


def test_audit_page_query_count_does_not_grow_with_rows(lead, make_user, django_assert_num_queries):
    for n in range(6):
        _event(
            "label.submit",
            actor=make_user("analyst", username=f"analyst{n}"),
            merchant=MerchantFactory(),
            before={"status": "leased"},
            after={"status": "done", "category": "gambling"},
        )
    client = logged_in(lead)
    client.get("/healthz")  # the first request after a login records the session's start
    # Session, user, roles; categories, actors, verbs; one page of events with merchants;
    # the users they name, with their groups (for "analyst ana"); the integrity panel's last
    # verification, the sealed head and the events waiting for the sealer.
    with django_assert_num_queries(12):
        response = client.get(AUDIT, {"category": "gambling"})
    assert len(_event_ids(response)) == 6
    # The htmx fragment skips the actor and verb suggestions.
    with django_assert_num_queries(7):
        client.get(AUDIT, {"category": "gambling"}, headers={"HX-Request": "true"})


def test_csv_streams_the_filtered_events_with_a_header(lead):
    merchant = MerchantFactory(external_id="M-1")
    wanted = _event(
        "label.submit",
        actor=lead,
        merchant=merchant,
        before={"status": "leased"},
        after={"category": "gambling", "status": "done"},
    )
    _event("item.claim", actor=lead, merchant=merchant)
    response = logged_in(lead).get(CSV, {"verb": "label."})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    header, *rows = _csv_rows(response)
    assert header == [
        "id",
        "created_at",
        "actor",
        "verb",
        "object_type",
        "object_id",
        "merchant",
        "before",
        "after",
    ]
    assert rows == [
        [
            str(wanted.pk),
            wanted.created_at.isoformat(),
            "lea",
            "label.submit",
            "supportability.merchant",
            str(merchant.pk),
            "M-1",
            '{"status":"leased"}',
            '{"category":"gambling","status":"done"}',
        ]
    ]


def test_csv_defuses_spreadsheet_formulas(lead):
    merchant = MerchantFactory(external_id='=HYPERLINK("http://x.example")')
    _event("merchant.update", merchant=merchant, actor_label="@upstream")
    _event("merchant.update", merchant=MerchantFactory(external_id="+1"), actor_label="-x")
    _event("merchant.update", merchant=MerchantFactory(external_id="\tT"), actor_label="\rR")
    *rows, download = _csv_rows(logged_in(lead).get(CSV))[1:]
    assert download[3] == "export.audit"  # the download's own event, written before it
    assert [(row[2], row[6]) for row in rows] == [
        ("'@upstream", '\'=HYPERLINK("http://x.example")'),
        ("'-x", "'+1"),
        ("'\rR", "'\tT"),
    ]


def test_csv_bad_filter_is_400_naming_the_field(lead):
    response = logged_in(lead).get(CSV, {"date_to": "tomorrow"})
    assert response.status_code == 400
    assert "date_to:" in response.content.decode()


def _merchant_with_history(analyst, *, name="Peptide Lab"):
    model = ModelVersionFactory(name="detector", version="v1")
    item = ReviewItemFactory(
        merchant__name=name, score__model_version=model, score__probability=0.7
    )
    lease = labeling.item_claim(user=analyst)
    labeling.label_submit(
        user=analyst,
        item_id=item.pk,
        lease_token=lease.token,
        data=labeling.LabelInput(
            "prohibited",
            "pseudo-pharmaceuticals",
            "Sells <b>research</b> peptides.",
            uuid.uuid4().hex,
        ),
    )
    ScoreFactory(
        merchant=item.merchant,
        model_version=ModelVersionFactory(name="detector", version="v2"),
        probability=0.9,
    )
    _event("adjudication.decide", merchant=item.merchant, after={"category": "weapons"})
    return item.merchant


def test_timeline_merges_every_kind_of_history_in_time_order(analyst, lead):
    merchant = _merchant_with_history(analyst)
    html = logged_in(lead).get(f"/lead/merchants/{merchant.pk}/").content.decode()
    kinds = re.findall(r'data-kind="(\w+)"', html)
    times = re.findall(r'<time datetime="([^"]+)"', html)
    assert times == sorted(times)
    assert kinds[0] == "score"  # the score the item was queued with came first
    assert kinds.index("item") < kinds.index("label") < len(kinds) - 1 - kinds[::-1].index("score")
    assert kinds[-1] == "event"  # the adjudication, last
    assert "Scored 0.70 by detector@v1" in html
    assert "Labelled prohibited · Pseudo-pharmaceuticals" in html
    assert "Sells &lt;b&gt;research&lt;/b&gt; peptides." in html  # the rationale, escaped
    assert "adjudication.decide" in html
    assert html.count('class="score-point"') == 2  # one point per score


def test_timeline_escapes_the_merchants_text(analyst, lead):
    merchant = MerchantFactory(
        name="<script>alert(1)</script>", description='<img src=x onerror="alert(2)">'
    )
    ScoreFactory(merchant=merchant)
    html = logged_in(lead).get(f"/lead/merchants/{merchant.pk}/").content.decode()
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<script>alert(1)" not in html
    assert "<img src=x" not in html


def test_timeline_query_count_does_not_grow_with_history(analyst, lead, django_assert_num_queries):
    merchant = _merchant_with_history(analyst)
    for n in range(5):
        _event("qa_audit.record", merchant=merchant, after={"n": n})
    client = logged_in(lead)
    client.get("/healthz")  # the first request after a login records the session's start
    # Session, user, roles; the merchant; the chart's scores; one query per source (7:
    # scores, items, labels, adjudications, QA audits, re-reviews, events, and the users the
    # events name with their groups); the reopenable decisions.
    with django_assert_num_queries(15):
        response = client.get(f"/lead/merchants/{merchant.pk}/")
    events = AuditEvent.objects.filter(merchant=merchant).count()
    assert events >= 8
    assert response.content.decode().count('data-kind="event"') == events
