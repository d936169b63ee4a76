"""The admin: an operator can look up every part of the review loop, change nothing (a
write there would bypass the services and their audit), and never sees a secret."""

from __future__ import annotations

import pytest
from django.contrib import admin
from django.urls import reverse
from django.utils import timezone

from labeling import services as labeling
from labeling.models import (
    GoldAnswer,
    Label,
    Lease,
    Queue,
    ReviewerSettings,
    ReviewItem,
    SamplingRound,
)
from review import services
from review.models import Adjudication, CleanLabel, QaAudit, ReReview
from supportability.models import ApiToken, AuditEvent, ModelVersion, TrainingRun
from supportability.services import token_create
from tests.clients import logged_in
from tests.factories import (
    MerchantFactory,
    ModelVersionFactory,
    clean_label,
    escalated_item,
    label_through_services,
)

pytestmark = pytest.mark.django_db

MODELS = [
    Queue,
    ReviewItem,
    Lease,
    Label,
    GoldAnswer,
    SamplingRound,
    Adjudication,
    QaAudit,
    CleanLabel,
    ReReview,
    TrainingRun,
    ModelVersion,
    ApiToken,
    AuditEvent,
    ReviewerSettings,
]


@pytest.fixture
def operator(make_user):
    return make_user("admin", username="operator")


@pytest.fixture
def world(make_user, lead):
    """One of everything, made through the services where there is one."""
    ann, bob = make_user("analyst", username="ann"), make_user("analyst", username="bob")
    item = escalated_item([ann, bob], [("restricted", "gambling"), ("supportable", "none")])
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    services.adjudication_submit(
        user=lead,
        item_id=item.pk,
        lease_token=lease.token,
        data=services.Decided("restricted", "gambling", "odds on the home page"),
    )
    services.review_settings_update(
        actor=lead, audit_rate=1, audit_floor=1, audit_cap=1, four_eyes=[]
    )
    from tests.factories import ReviewItemFactory

    label_through_services(ann, ReviewItemFactory(), "supportable", "none")
    services.qa_audits_draw()
    services.lead_claim(user=lead, work=services.Work.AUDIT)  # a live lease on the audit
    merchant = MerchantFactory(external_id="M-GOLD")
    labeling.gold_create(
        actor=lead,
        merchant=merchant,
        data=labeling.LabelInput("prohibited", "gambling", "known casino", "gold"),
    )
    model = ModelVersionFactory(name="demo", version="run1", status="champion")
    clean = clean_label(merchant)
    SamplingRound.objects.create(
        queue=labeling.queue_default(),
        model_version=model,
        shares={"audit": 1.0},
        lead_shares={"audit": 1.0},
        capacity=10,
        expected_reviews=10,
        population=100,
        population_flagged=10,
        threshold=0.5,
        drawn=0,
        new_items=0,
        created_by=lead,
    )
    ReReview.objects.create(
        item=item,
        merchant=item.merchant,
        decision=clean.decision,
        category_slug="gambling",
        model_probability=0.9,
    )
    TrainingRun.objects.create(status=TrainingRun.Status.HELD, step="decide", requested_by=lead)
    ReviewerSettings.objects.create(user=ann, shortcuts_enabled=False)
    _, secret = token_create(name="trainer", scopes=["labels:read"])
    return {"item": item, "secret": secret}


def _url(model, view, *args):
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_{view}", args=args)


def test_every_part_of_the_loop_is_registered_and_read_only(operator):
    for model in MODELS:
        model_admin = admin.site._registry.get(model)
        assert model_admin is not None, model
        request = type("Request", (), {"user": operator})()
        assert not model_admin.has_add_permission(request), model
        assert not model_admin.has_change_permission(request), model
        assert not model_admin.has_delete_permission(request), model


def test_an_operator_opens_each_list_and_a_row(operator, world):
    client = logged_in(operator)
    for model in MODELS:
        listing = client.get(_url(model, "changelist"))
        assert listing.status_code == 200, model
        row = model.objects.order_by("pk").first()
        assert row is not None, model
        page = client.get(_url(model, "change", row.pk))
        assert page.status_code == 200, model
        assert 'name="_save"' not in page.content.decode(), model


def test_a_post_to_change_a_row_is_refused_and_changes_nothing(operator, world):
    client = logged_in(operator)
    queue = labeling.queue_default()
    response = client.post(
        _url(Queue, "change", queue.pk), {"slug": "general", "name": "Hijacked", "paused": "on"}
    )
    assert response.status_code == 403
    item = world["item"]
    item.refresh_from_db()
    status = item.status
    response = client.post(_url(ReviewItem, "change", item.pk), {"status": "queued"})
    assert response.status_code == 403
    assert client.post(_url(Queue, "add"), {"slug": "new", "name": "New"}).status_code == 403
    assert client.post(_url(Label, "delete", Label.objects.first().pk)).status_code == 403
    queue.refresh_from_db()
    item.refresh_from_db()
    assert (queue.name, queue.paused) == ("General", False)
    assert item.status == status != ReviewItem.Status.QUEUED
    assert Queue.objects.count() == 1 and Label.objects.count() == 3


def test_no_lease_token_or_key_hash_is_ever_shown(operator, world):
    client = logged_in(operator)
    tokens = [str(t) for t in Lease.objects.values_list("token", flat=True)]
    assert tokens and AuditEvent.objects.filter(after__lease__isnull=False).exists()
    pages = [client.get(_url(model, "changelist")).content.decode() for model in MODELS]
    for model in (Lease, Label, Adjudication, QaAudit, AuditEvent):
        for row in model.objects.all()[:20]:
            pages.append(client.get(_url(model, "change", row.pk)).content.decode())
    token = ApiToken.objects.get()
    pages.append(client.get(_url(ApiToken, "change", token.pk)).content.decode())
    html = "\n".join(pages)
    assert not [t for t in tokens if t in html]
    assert token.key_sha256 not in html and world["secret"] not in html
    assert token.prefix in html
    assert "(hidden)" in html  # the audit events' lease tokens


def test_search_finds_items_by_merchant_id_and_labels_by_username(operator, world):
    client = logged_in(operator)
    external_id = world["item"].merchant.external_id
    items = client.get(_url(ReviewItem, "changelist"), {"q": external_id}).content.decode()
    assert external_id in items and "1 result" in items
    labels = client.get(_url(Label, "changelist"), {"q": "bob"}).content.decode()
    assert "1 result" in labels


def test_the_sla_and_a_breach_time_are_visible_on_a_queue_and_an_item(operator, world):
    ReviewItem.objects.filter(pk=world["item"].pk).update(sla_breached_at=timezone.now())
    client = logged_in(operator)
    queues = client.get(_url(Queue, "changelist")).content.decode()
    assert "1440" in queues
    page = client.get(_url(ReviewItem, "change", world["item"].pk)).content.decode()
    assert "Sla breached at" in page


def test_a_lease_history_page_does_not_show_its_token(operator, world):
    lease = Lease.objects.first()
    page = logged_in(operator).get(_url(Lease, "history", lease.pk))
    assert page.status_code == 200
    assert str(lease.token) not in page.content.decode()
    assert f"lease {lease.pk} on item {lease.item_id}" in page.content.decode()
