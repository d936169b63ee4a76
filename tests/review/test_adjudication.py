"""Adjudication services: the lead queue's claims, maker-checker, four eyes, reopening."""

from __future__ import annotations

import pytest

from labeling.models import Lease, ReviewItem
from review import services
from review.models import Adjudication
from supportability.models import AuditEvent
from tests.factories import escalated_item

pytestmark = pytest.mark.django_db

GAMBLING = ("restricted", "gambling")
OK = ("supportable", "none")


@pytest.fixture
def pair(make_user):
    return [make_user("analyst", username="ann"), make_user("analyst", username="bob")]


@pytest.fixture
def disagreement(pair):
    return escalated_item(pair, [GAMBLING, OK])


def decide(lead, item, decision="restricted", category="gambling", **kwargs):
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    assert lease is not None and lease.item_id == item.pk
    return services.adjudication_submit(
        user=lead,
        item_id=item.pk,
        lease_token=lease.token,
        data=services.Decided(decision, category, "site takes sports bets"),
        **kwargs,
    )


def test_disagreeing_labels_escalate_and_an_unsure_escalates(pair, disagreement):
    assert disagreement.status == ReviewItem.Status.ESCALATED
    unsure = escalated_item(pair[:1], [("unsure", "none")])
    assert unsure.status == ReviewItem.Status.ESCALATED


def test_a_lead_adjudicates_and_the_item_is_done(lead, disagreement):
    adjudication = decide(lead, disagreement)
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.DONE
    assert adjudication.status == Adjudication.Status.FINAL
    assert adjudication.category.slug == "gambling"
    assert Lease.objects.get(pk=adjudication.lease_id).outcome == Lease.Outcome.LABELLED
    event = AuditEvent.objects.get(verb="adjudication.submit")
    assert event.after["category"] == "gambling"
    assert event.before["labels"] == ["restricted/gambling", "supportable/none"]


def test_two_leads_never_get_the_same_escalation(make_user, disagreement):
    first = services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE)
    second = services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE)
    assert first is not None and first.item_id == disagreement.pk
    assert second is None


def test_a_lead_who_labelled_the_item_is_not_offered_it(make_user, pair):
    labeller_lead = make_user("lead", username="lead-who-labels")
    item = escalated_item([pair[0], labeller_lead], [GAMBLING, OK])
    assert services.lead_claim(user=labeller_lead, work=services.Work.ADJUDICATE) is None
    assert services.lead_work_counts(labeller_lead)["adjudicate"] == 0
    assert services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE).item_id == (
        item.pk
    )


def test_a_lead_who_labelled_the_item_cannot_adjudicate_it_even_with_a_lease(make_user, pair):
    labeller_lead = make_user("lead", username="lead-who-labels")
    item = escalated_item([pair[0], labeller_lead], [GAMBLING, OK])
    # A lease obtained some other way (e.g. forged form): the service still refuses.
    lease = Lease.objects.create(
        item=item,
        holder=labeller_lead,
        claimed_at=item.updated_at,
        expires_at=item.updated_at + services.lead_work.lease_ttl(),
    )
    with pytest.raises(services.NotAllowed):
        services.adjudication_submit(
            user=labeller_lead,
            item_id=item.pk,
            lease_token=lease.token,
            data=services.Decided("restricted", "gambling", "mine"),
        )
    assert not Adjudication.objects.exists()


def test_an_analyst_cannot_claim_lead_work(pair, disagreement):
    with pytest.raises(services.NotAllowed):
        services.lead_claim(user=pair[0], work=services.Work.ADJUDICATE)


def test_rationale_is_required_and_nothing_is_written_without_it(lead, disagreement):
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    with pytest.raises(services.InvalidInput) as exc:
        services.adjudication_submit(
            user=lead,
            item_id=disagreement.pk,
            lease_token=lease.token,
            data=services.Decided("restricted", "gambling", "  "),
        )
    assert exc.value.field == "rationale"
    assert not Adjudication.objects.exists()
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED


def test_not_for_training_needs_a_reason(lead, disagreement):
    with pytest.raises(services.InvalidInput) as exc:
        decide(lead, disagreement, for_training=False)
    assert exc.value.field == "training_note"
    adjudication = decide(
        lead, disagreement, for_training=False, training_note="policy exception: licensed"
    )
    assert adjudication.for_training is False
    assert adjudication.status == Adjudication.Status.FINAL  # the business decision stands


def test_four_eyes_category_waits_for_a_second_lead(make_user, pair):
    item = escalated_item(pair, [("prohibited", "sanctioned-jurisdictions"), OK])
    first, second = make_user("lead", username="l1"), make_user("lead", username="l2")
    adjudication = decide(first, item, "prohibited", "sanctioned-jurisdictions")
    item.refresh_from_db()
    assert adjudication.status == Adjudication.Status.AWAITING_SIGNOFF
    assert item.status == ReviewItem.Status.SIGNOFF
    # The maker is never offered their own decision to check.
    assert services.lead_claim(user=first, work=services.Work.SIGNOFF) is None
    lease = services.lead_claim(user=second, work=services.Work.SIGNOFF)
    assert lease is not None and lease.item_id == item.pk
    services.adjudication_signoff(
        user=second, item_id=item.pk, lease_token=lease.token, approve=True
    )
    adjudication.refresh_from_db()
    item.refresh_from_db()
    assert adjudication.status == Adjudication.Status.FINAL
    assert adjudication.signoff_by == second
    assert item.status == ReviewItem.Status.DONE


def test_the_maker_cannot_sign_off_their_own_decision(make_user, pair):
    item = escalated_item(pair, [("prohibited", "adult-content"), OK])
    first = make_user("lead", username="l1")
    decide(first, item, "prohibited", "adult-content")
    lease = Lease.objects.create(
        item=item,
        holder=first,
        claimed_at=item.updated_at,
        expires_at=item.updated_at + services.lead_work.lease_ttl(),
    )
    with pytest.raises(services.NotAllowed):
        services.adjudication_signoff(
            user=first, item_id=item.pk, lease_token=lease.token, approve=True
        )
    assert Adjudication.objects.get().status == Adjudication.Status.AWAITING_SIGNOFF


def test_a_refused_signoff_sends_the_item_back_with_the_reason(make_user, pair):
    item = escalated_item(pair, [("prohibited", "adult-content"), OK])
    first, second = make_user("lead", username="l1"), make_user("lead", username="l2")
    decide(first, item, "prohibited", "adult-content")
    lease = services.lead_claim(user=second, work=services.Work.SIGNOFF)
    with pytest.raises(services.InvalidInput):
        services.adjudication_signoff(
            user=second, item_id=item.pk, lease_token=lease.token, approve=False
        )
    services.adjudication_signoff(
        user=second, item_id=item.pk, lease_token=lease.token, approve=False, note="it is art"
    )
    item.refresh_from_db()
    assert item.status == ReviewItem.Status.ESCALATED
    assert Adjudication.objects.get().status == Adjudication.Status.REJECTED
    # Back in the adjudication queue, for any lead, the first one included.
    assert services.lead_claim(user=first, work=services.Work.ADJUDICATE).item_id == item.pk


def test_reopening_keeps_history_and_the_new_decision_supersedes(make_user, lead, disagreement):
    old = decide(lead, disagreement)
    with pytest.raises(services.InvalidInput):
        services.adjudication_reopen(user=lead, adjudication_id=old.pk, reason="")
    services.adjudication_reopen(user=lead, adjudication_id=old.pk, reason="new evidence: licence")
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED
    other = make_user("lead", username="l2")
    new = decide(other, disagreement, "supportable", "none")
    old.refresh_from_db()
    assert old.status == Adjudication.Status.SUPERSEDED
    assert old.reopen_reason == "new evidence: licence"
    assert new.supersedes == old
    assert new.status == Adjudication.Status.FINAL
    assert list(disagreement.adjudications.order_by("id").values_list("status", flat=True)) == [
        "superseded",
        "final",
    ]
    assert [
        e.verb for e in AuditEvent.objects.filter(verb__startswith="adjudication.").order_by("id")
    ] == ["adjudication.submit", "adjudication.reopen", "adjudication.submit"]
    with pytest.raises(services.Conflict):
        services.adjudication_reopen(user=lead, adjudication_id=old.pk, reason="again")


def test_a_lead_holding_an_analyst_item_must_finish_it_first(lead, make_user, pair, disagreement):
    from labeling import services as labeling
    from tests.factories import ReviewItemFactory

    ReviewItemFactory()
    labeling.item_claim(user=lead)
    with pytest.raises(services.Conflict):
        services.lead_claim(user=lead, work=services.Work.ADJUDICATE)


def test_an_analyst_claim_refuses_while_a_lead_holds_lead_work(lead, disagreement):
    from labeling import services as labeling
    from tests.factories import ReviewItemFactory

    ReviewItemFactory()
    services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    with pytest.raises(labeling.Conflict):
        labeling.item_claim(user=lead)


def test_releasing_lead_work_leaves_the_item_escalated(lead, disagreement):
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    services.lead_release(user=lead, item_id=disagreement.pk, lease_token=lease.token)
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED
    assert services.lead_claim(user=lead, work=services.Work.ADJUDICATE).item_id == disagreement.pk


def test_a_lapsed_lead_lease_frees_the_item_without_changing_its_status(
    make_user, lead, disagreement
):
    from datetime import timedelta

    from labeling import services as labeling

    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    assert labeling.leases_expire(now=lease.expires_at + timedelta(seconds=1)) == 1
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED
    other = services.lead_claim(user=make_user("lead"), work=services.Work.ADJUDICATE)
    assert other.item_id == disagreement.pk


def forged_lease(user, item):
    """A lease obtained around the claim's checks (a forged form, a stale tab)."""
    return Lease.objects.create(
        item=item,
        holder=user,
        claimed_at=item.updated_at,
        expires_at=item.updated_at + services.lead_work.lease_ttl(),
    )


def test_clearing_a_four_eyes_flag_needs_a_second_lead_too(lead, pair):
    item = escalated_item(pair, [("prohibited", "sanctioned-jurisdictions"), OK])
    adjudication = decide(lead, item, "supportable", "none")
    assert adjudication.requires_signoff
    assert adjudication.status == Adjudication.Status.AWAITING_SIGNOFF


def test_reopening_a_four_eyes_decision_to_change_it_needs_a_second_lead(make_user, pair):
    # Neither analyst's label is a four-eyes category; the first decision is.
    item = escalated_item(pair, [("prohibited", "weapons"), ("prohibited", "drugs")])
    maker, checker = make_user("lead", username="maker"), make_user("lead", username="checker")
    first = decide(maker, item, "prohibited", "adult-content")
    lease = services.lead_claim(user=checker, work=services.Work.SIGNOFF)
    services.adjudication_signoff(
        user=checker, item_id=item.pk, lease_token=lease.token, approve=True
    )
    services.adjudication_reopen(user=maker, adjudication_id=first.pk, reason="second look")
    again = decide(maker, item, "prohibited", "weapons")
    assert again.supersedes == first
    assert again.requires_signoff
    assert again.status == Adjudication.Status.AWAITING_SIGNOFF


def test_an_upheld_label_must_say_what_the_decision_says(lead, disagreement):
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    gambling = disagreement.labels.get(decision="restricted")
    with pytest.raises(services.InvalidInput) as exc:
        services.adjudication_submit(
            user=lead,
            item_id=disagreement.pk,
            lease_token=lease.token,
            data=services.Decided("prohibited", "gambling", "worse than they said"),
            upheld_label_id=gambling.pk,
        )
    assert exc.value.field == "upheld_label"
    assert not Adjudication.objects.exists()


def test_an_upheld_label_from_another_item_is_refused(lead, pair, disagreement):
    other = escalated_item(pair, [GAMBLING, OK], priority=0.01)
    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    assert lease.item_id == disagreement.pk
    with pytest.raises(services.InvalidInput) as exc:
        services.adjudication_submit(
            user=lead,
            item_id=disagreement.pk,
            lease_token=lease.token,
            data=services.Decided(*GAMBLING, "odds"),
            upheld_label_id=other.labels.get(decision="restricted").pk,
        )
    assert exc.value.field == "upheld_label"


def test_an_expired_lease_writes_nothing(lead, disagreement):
    from datetime import timedelta

    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    Lease.objects.filter(pk=lease.pk).update(expires_at=lease.claimed_at - timedelta(seconds=1))
    with pytest.raises(services.LeaseLost):
        services.adjudication_submit(
            user=lead,
            item_id=disagreement.pk,
            lease_token=lease.token,
            data=services.Decided(*GAMBLING, "odds"),
        )
    assert not Adjudication.objects.exists()
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED


def test_a_lead_who_labelled_the_item_cannot_sign_it_off(make_user, pair):
    labeller = make_user("lead", username="labelling-lead")
    item = escalated_item([pair[0], labeller], [("prohibited", "adult-content"), OK])
    decide(make_user("lead", username="maker"), item, "prohibited", "adult-content")
    assert services.lead_claim(user=labeller, work=services.Work.SIGNOFF) is None
    with pytest.raises(services.NotAllowed):
        services.adjudication_signoff(
            user=labeller,
            item_id=item.pk,
            lease_token=forged_lease(labeller, item).token,
            approve=True,
        )
    assert Adjudication.objects.get().status == Adjudication.Status.AWAITING_SIGNOFF


def test_an_analyst_path_refuses_a_leads_lease(lead, disagreement):
    from labeling import services as labeling

    lease = services.lead_claim(user=lead, work=services.Work.ADJUDICATE)
    with pytest.raises(labeling.LeaseLost):
        labeling.label_submit(
            user=lead,
            item_id=disagreement.pk,
            lease_token=lease.token,
            data=labeling.LabelInput("supportable", "none", "", "k1"),
        )
    with pytest.raises(labeling.LeaseLost):
        labeling.lease_release(user=lead, item_id=disagreement.pk, lease_token=lease.token)
    disagreement.refresh_from_db()
    assert disagreement.status == ReviewItem.Status.ESCALATED
    assert disagreement.label_count == 2


def test_an_item_being_worked_on_cannot_be_reopened(make_user, lead, disagreement):
    adjudication = decide(lead, disagreement)
    forged_lease(make_user("lead"), disagreement)
    with pytest.raises(services.Conflict):
        services.adjudication_reopen(user=lead, adjudication_id=adjudication.pk, reason="why")
    assert Adjudication.objects.get().status == Adjudication.Status.FINAL
