"""A real chromium: a keyboard-only analyst session on the review screen (claim, decide five,
undo one, skip one), once with the single-key shortcuts and once with them turned off
(WCAG 2.1.4), when only Tab, arrows, Space and Enter work and single keys do nothing."""

from __future__ import annotations

import pytest

from labeling import services
from labeling.models import Label, Lease, ReviewItem
from tests.factories import ReviewItemFactory, UserFactory

from .conftest import SHOTS, login

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("taxonomy"),
]

DECISIONS = ["supportable", "restricted", "prohibited", "unsure"]
NAMES = [f"Merchant {letter}" for letter in "ABCDEFG"]
# (decision, category filter, rationale) for the five decisions.
PLAN = [
    ("supportable", None, ""),
    ("prohibited", "gamb", "Online casino."),
    ("restricted", "digit", "Crypto exchange."),
    ("supportable", None, ""),
    ("unsure", "weap", "Replica or real?"),
]


def _focused(page, selector: str) -> bool:
    return page.evaluate("(s) => Boolean(document.activeElement?.matches(s))", selector)


VISIBLE_OPTIONS = (
    "[...document.querySelectorAll('[role=option]')].filter(o => !o.hidden && o.offsetParent)"
)


def _wait_focus(page, selector: str) -> None:
    page.wait_for_function("(s) => Boolean(document.activeElement?.matches(s))", arg=selector)


def _filtered_to_one(page) -> None:
    """The list has caught up with the typing: pressing a key before it has would act on
    the list as it was (a race the first version of this test lost now and then)."""
    page.wait_for_function(f"{VISIBLE_OPTIONS}.length === 1")


def tab_to(page, selector: str, limit: int = 200) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if _focused(page, selector):
            return
    raise AssertionError(f"Tab never reached {selector}")


class Keys:
    """The analyst's single-key shortcuts (the defaults)."""

    def claim(self, page):
        page.keyboard.press("n")

    def decide(self, page, decision, category, rationale):
        page.keyboard.press(str(DECISIONS.index(decision) + 1))
        page.wait_for_selector(f"input[value={decision}]:checked")
        if category == "digit":
            page.keyboard.press("c")
            _wait_focus(page, "#category-input")  # else the digit is a decision key
            page.keyboard.press("1")  # the first suggestion
            page.keyboard.press("Escape")
        elif category:
            page.keyboard.press("c")
            _wait_focus(page, "#category-input")
            page.keyboard.type(category)
            _filtered_to_one(page)
            page.keyboard.press("Enter")  # one match: picked
            page.keyboard.press("Escape")
        if rationale:
            page.keyboard.press("r")
            _wait_focus(page, "#rationale")
            page.keyboard.type(rationale)
            page.keyboard.press("Escape")
        page.keyboard.press("Control+Enter")

    def undo(self, page):
        page.keyboard.press("u")

    def skip(self, page):
        page.keyboard.press("s")


class TabAndEnter:
    """No single-key shortcuts: Tab to a control, arrows in the radio group and the list,
    Space or Enter to act."""

    def claim(self, page):
        tab_to(page, "#claim-next")
        page.keyboard.press("Enter")

    def decide(self, page, decision, category, rationale):
        tab_to(page, "input[name=decision]")
        if decision == "supportable":
            page.keyboard.press("Space")
        while not _focused(page, f"input[value={decision}]"):
            page.keyboard.press("ArrowRight")
        if category:
            tab_to(page, "#category-input")
            page.keyboard.type("crypto" if category == "digit" else category)
            _filtered_to_one(page)
            page.keyboard.press("ArrowDown")
            page.keyboard.press("Enter")
        if rationale:
            tab_to(page, "#rationale")
            page.keyboard.type(rationale)
        tab_to(page, "#submit-label")
        page.keyboard.press("Enter")

    def undo(self, page):
        tab_to(page, "#undo")
        page.keyboard.press("Enter")

    def skip(self, page):
        tab_to(page, "#skip")
        page.keyboard.press("Enter")


def _shown(page, name: str) -> None:
    page.wait_for_selector(f"#merchant-name:has-text('{name}')")


def _assert_form_above_the_fold(page) -> None:
    box = page.locator("#decide").bounding_box()
    assert box is not None
    assert box["x"] >= 0 and box["y"] >= 0
    assert box["x"] + box["width"] <= 1366 and box["y"] + box["height"] <= 768, box


def _assert_single_keys_do_nothing(page, posts: list[str], merchant: str) -> None:
    """With the shortcuts off: decision, skip, undo and next keys change nothing."""
    before = len(posts)
    page.evaluate("document.activeElement?.blur()")
    for key in ["1", "3", "c", "r", "s", "u", "n"]:
        page.keyboard.press(key)
    assert page.evaluate("document.querySelector('input[name=decision]:checked')") is None
    assert page.evaluate("document.activeElement === document.body")
    _shown(page, merchant)
    page.evaluate("() => new Promise((done) => setTimeout(done, 0))")  # let handlers run
    assert posts[before:] == []


@pytest.mark.parametrize("driver", [Keys(), TabAndEnter()], ids=["shortcuts-on", "shortcuts-off"])
def test_keyboard_only_session_decides_five_undoes_one_skips_one(live_server, browser, driver):
    analyst = UserFactory(username="ana", role="analyst")
    items = [
        ReviewItemFactory(priority=1 - n / 10, merchant__name=name) for n, name in enumerate(NAMES)
    ]
    off = isinstance(driver, TabAndEnter)
    if off:
        services.reviewer_settings_update(user=analyst, shortcuts_enabled=False, keymap={})
    base = live_server.url
    page = browser.new_page(viewport={"width": 1366, "height": 768})
    posts: list[str] = []
    page.on("request", lambda r: posts.append(r.url) if r.method == "POST" else None)
    login(page, base, "ana")
    page.wait_for_url(f"{base}/queue/")
    posts.clear()

    if off:
        page.keyboard.press("n")
        assert "Single-key shortcuts are off." in page.inner_text("#key-help")
    driver.claim(page)
    _shown(page, NAMES[0])
    _assert_form_above_the_fold(page)
    if off:
        _assert_single_keys_do_nothing(page, posts, NAMES[0])
        assert sum("/queue/next/" in url for url in posts) == 1  # only the Enter claimed

    for n, (decision, category, rationale) in enumerate(PLAN):
        driver.decide(page, decision, category, rationale)
        _shown(page, NAMES[n + 1])
        if n == 0:
            page.screenshot(path=str(SHOTS / f"review-keyboard-{'off' if off else 'on'}.png"))
    page.wait_for_selector("#undo-form")
    assert "You labelled Merchant E" in page.inner_text("#undo-bar")

    driver.undo(page)
    page.wait_for_selector(".queue-bar:has-text('withdrawn')")
    _shown(page, NAMES[4])
    assert page.eval_on_selector("input[name=decision]:checked", "e => e.value") == "unsure"
    assert page.input_value("#category") == "weapons"
    assert page.input_value("#rationale") == "Replica or real?"

    driver.skip(page)
    _shown(page, NAMES[5])  # the item the undo gave back to the queue, straight away

    labelled = list(
        Label.objects.order_by("item__priority").values_list("item__merchant__name", "decision")
    )
    assert sorted(labelled) == sorted(zip(NAMES[:4], [p[0] for p in PLAN[:4]], strict=True))
    # By the first numbered suggestion (the model's likeliest), or by typing "crypto".
    expected = "unlicensed-financial-services" if off else "pseudo-pharmaceuticals"
    assert Label.objects.get(item=items[2]).category.slug == expected
    assert ReviewItem.objects.get(pk=items[4].pk).status == ReviewItem.Status.QUEUED
    assert Lease.objects.filter(item=items[4], outcome=Lease.Outcome.RELEASED).exists()
    assert Lease.objects.get(holder=analyst, outcome=Lease.Outcome.ACTIVE).item == items[5]
