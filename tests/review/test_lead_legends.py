"""The lead screens' shortcut legends list exactly the keys static/js/lead.js handles there
(split from test_work_views.py)."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.urls import reverse

from labeling.models import ReviewItem
from review import services
from tests.clients import logged_in
from tests.factories import escalated_item
from tests.review.test_work_views import claim

pytestmark = pytest.mark.django_db

BET = ("restricted", "gambling")
OK = ("supportable", "none")

LEAD_JS = (settings.BASE_DIR / "static" / "js" / "lead.js").read_text()


def _handled_keys() -> set[str]:
    """Every key lead.js acts on, read from the script itself."""
    keys = set()
    for table in ("DECISIONS", "WORK_KEYS"):
        body = re.search(table + r" = \{([^}]*)\}", LEAD_JS)
        assert body, table
        keys |= set(re.findall(r"(\w+):", body.group(1)))
    keys |= set(re.findall(r'key === "(\w)"', LEAD_JS))
    if "/^[1-9]$/.test(key)" in LEAD_JS:
        keys |= set("123456789")
    if 'event.key === "Enter" && (event.ctrlKey' in LEAD_JS:
        keys |= {"ctrl", "enter"}
    if 'event.key === "Escape"' in LEAD_JS:
        keys.add("esc")
    return keys


# What each key acts on in lead.js: a key works on a screen that has its target.
TARGETS = {
    "1": ['id="upheld_label"', 'id="label-1"'],
    "9": ['id="upheld_label"', 'id="label-1"'],
    "s": ['name="decision" value="supportable"'],
    "r": ['name="decision" value="restricted"'],
    "p": ['name="decision" value="prohibited"'],
    "c": ['id="category"'],
    "t": ['id="not_for_training"'],
    "o": ['name="verdict" value="overturn"'],
    "x": ['name="verdict" value="refuse"'],
    "k": ['id="release"'],
    "ctrl": ['id="decide-form"'],
    "enter": ['id="decide-form"'],
    "esc": [],
}


def _works(key: str, html: str) -> bool:
    if key == "a":
        return 'name="verdict" value="agree"' in html or 'name="verdict" value="approve"' in html
    if key == "w":
        return 'id="rationale"' in html or 'id="note"' in html
    return all(target in html for target in TARGETS[key])


def _legend_keys(html: str) -> set[str]:
    legend = html[html.index('id="shortcuts"') :]
    legend = legend[: legend.index("</p>")]
    return {k.lower() for k in re.findall(r"<kbd>([^<]+)</kbd>", legend)}


def _screen(client, work: str) -> str:
    response = claim(client, work)
    assert response["Location"].startswith("/lead/items/"), work
    return client.get(response["Location"]).content.decode()


def _adjudication_screen(lead) -> str:
    return _screen(logged_in(lead), "adjudicate")


def _signoff_screen(make_user, pair) -> str:
    escalated_item(pair, [("prohibited", "sanctioned-jurisdictions"), OK])
    maker, checker = make_user("lead", username="maker"), make_user("lead", username="checker")
    lease = services.lead_claim(user=maker, work=services.Work.ADJUDICATE)
    assert lease is not None
    services.adjudication_submit(
        user=maker,
        item_id=lease.item_id,
        lease_token=lease.token,
        data=services.Decided("prohibited", "sanctioned-jurisdictions", "sanctioned region"),
    )
    return _screen(logged_in(checker), "signoff")


def _audit_screen(analyst, lead) -> str:
    from tests.factories import ReviewItemFactory, label_through_services

    services.review_settings_update(
        actor=lead, audit_rate=1, audit_floor=1, audit_cap=1, four_eyes=[]
    )
    item: ReviewItem = ReviewItemFactory.create()
    label_through_services(analyst, item, "supportable", "none")
    services.qa_audits_draw()
    return _screen(logged_in(lead), "audit")


def _assert_legend_is_the_working_keys(html: str) -> None:
    handled = _handled_keys()
    legend = _legend_keys(html)
    assert legend <= handled, legend - handled
    # The work list's claim keys act off an item; 1-9 is one range, shown by its ends.
    candidates = handled - {"n", "f"} - set("2345678")
    working = {key for key in candidates if _works(key, html)}
    assert legend == working, legend ^ working


def test_the_adjudication_legend_lists_exactly_the_keys_that_work(lead, disagreement):
    _assert_legend_is_the_working_keys(_adjudication_screen(lead))


def test_the_signoff_legend_lists_exactly_the_keys_that_work(make_user, pair):
    html = _signoff_screen(make_user, pair)
    _assert_legend_is_the_working_keys(html)
    assert _legend_keys(html) == {"a", "x", "w", "k", "ctrl", "enter", "esc"}


def test_the_audit_legend_lists_exactly_the_keys_that_work(analyst, lead):
    html = _audit_screen(analyst, lead)
    _assert_legend_is_the_working_keys(html)
    assert "1" not in _legend_keys(html) and 'id="upheld_label"' not in html
    assert {"a", "o"} <= _legend_keys(html)


def test_every_key_shown_on_a_screen_is_one_lead_js_handles(lead, disagreement):
    html = _adjudication_screen(lead)
    work_list = logged_in(lead).get(reverse("review:work")).content.decode()
    shown = {k.lower() for k in re.findall(r"<kbd>([^<]+)</kbd>", html + work_list)}
    assert shown <= _handled_keys(), shown - _handled_keys()
    assert {"n", "f", "a"} <= shown  # the work list's claim keys
