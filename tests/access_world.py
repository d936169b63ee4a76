"""The rows the access matrix requests act on: a few users per role, a token per scope, and
one object of each kind a route names, each with an owner and a second one owned by someone
else (the IDOR cases). Built once per module; every test runs in a savepoint on top of it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from labeling import services as labeling
from labeling.models import GoldAnswer, Lease
from review.api.services import snapshot_request
from review.services.lead_work import Work, lead_claim
from supportability.models import ApiToken, ModelVersion, PolicyCategory, TrainingRun
from supportability.services.accounts import token_create, token_revoke
from tests.factories import (
    LeaseFactory,
    MerchantFactory,
    ModelVersionFactory,
    QueueFactory,
    ReviewItemFactory,
    UserFactory,
    clean_label,
    escalated_item,
)

# Every scope a token can hold; each is one role of the matrix.
TOKEN_ROLES = {f"token:{scope}": scope for scope in ApiToken.Scope.values}
REVOKED = "token:revoked"  # a token that held every scope, then was revoked
ROLES = ("anonymous", "analyst", "lead", "admin", *TOKEN_ROLES, REVOKED)


@dataclass
class World:
    users: dict[str, Any] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)
    leases: dict[str, Lease] = field(default_factory=dict)


def world_build() -> World:
    world = World()
    users = world.users
    users["analyst"] = UserFactory.create(username="mx-analyst", role="analyst")
    users["other_analyst"] = UserFactory.create(username="mx-other-analyst", role="analyst")
    users["lead"] = UserFactory.create(username="mx-lead", role="lead")
    users["other_lead"] = UserFactory.create(username="mx-other-lead", role="lead")
    users["admin"] = UserFactory.create(username="mx-admin", role="admin")
    for role, scope in TOKEN_ROLES.items():
        _, world.secrets[role] = token_create(name=f"mx-{scope.replace(':', '-')}", scopes=[scope])
    _, world.secrets[REVOKED] = token_create(name="mx-revoked", scopes=ApiToken.Scope.values)
    token_revoke(name="mx-revoked")
    # A token on an analyst's own account (their own client): the scope never lends a role.
    _, world.secrets["analyst_token"] = token_create(
        name="mx-analyst-client", scopes=[ApiToken.Scope.QUEUE_WORK], user=users["analyst"]
    )

    # The lead's lease on an escalation (the other lead's IDOR case).
    labellers = [UserFactory.create(username=f"mx-labeller-{n}", role="analyst") for n in (1, 2)]
    escalation = escalated_item(
        labellers,
        [("prohibited", "pseudo-pharmaceuticals"), ("supportable", "none")],
        queue=QueueFactory.create(slug="mx-escalations"),
    )
    lead_lease = lead_claim(user=users["lead"], work=Work.ADJUDICATE)
    assert lead_lease is not None and lead_lease.item_id == escalation.pk
    world.leases["lead"] = lead_lease
    world.ids["lead_item"] = escalation.pk
    world.ids["label"] = escalation.labels.order_by("pk").values_list("pk", flat=True)[0]
    world.ids["missing"] = 10**15

    # Each analyst holds a lease on an item of their own.
    for who in ("analyst", "other_analyst"):
        lease = LeaseFactory.create(holder=users[who])
        world.leases[who] = lease
        world.ids[f"{who}_item"] = lease.item_id
    world.ids["queued_item"] = ReviewItemFactory.create().pk

    # Merchants for the timeline: decided (open to analysts), decided with a gold answer, and
    # undecided (both closed to analysts).
    decided = MerchantFactory.create()
    clean_label(decided)
    gold = MerchantFactory.create()
    clean_label(gold)
    GoldAnswer.objects.create(
        merchant=gold,
        decision="prohibited",
        category=PolicyCategory.objects.get(slug="pseudo-pharmaceuticals"),
        rationale="known answer",
        created_by=users["lead"],
    )
    world.ids["decided_merchant"] = decided.pk
    world.ids["gold_merchant"] = gold.pk
    world.ids["undecided_merchant"] = MerchantFactory.create().pk

    world.ids["queue"] = QueueFactory.create(slug="mx-queue").pk
    world.ids["model"] = ModelVersionFactory.create(
        name="own", status=ModelVersion.Status.CANDIDATE
    ).pk
    world.ids["snapshot"] = snapshot_request(actor=users["lead"]).pk
    world.ids["run"] = TrainingRun.objects.create(
        requested_by=users["lead"], status=TrainingRun.Status.FAILED, holds_lock=False
    ).pk
    return world


def fresh_label(world: World, *, who: str) -> Any:
    """A label `who` (a new analyst) has just made, still inside its undo window: built in
    the test itself, since the window is 30 seconds."""
    analyst = UserFactory.create(username=f"mx-undo-{who}", role="analyst")
    queue = QueueFactory.create(slug=f"mx-undo-{who}")
    item = ReviewItemFactory.create(queue=queue)
    lease = labeling.item_claim(user=analyst, queue=queue.slug)
    assert lease is not None and lease.item_id == item.pk
    label, _ = labeling.label_submit(
        user=analyst,
        item_id=item.pk,
        lease_token=lease.token,
        data=labeling.LabelInput("supportable", "none", "fine", f"mx-{uuid.uuid4()}"),
    )
    return analyst, label
