"""Per-reviewer shortcuts (WCAG 2.1.4): off, or remapped, and checked before anything is
written."""

from __future__ import annotations

import json
import re

import pytest

from labeling import services
from labeling.models import ReviewerSettings
from supportability.models import AuditEvent
from tests.clients import logged_in

pytestmark = pytest.mark.django_db


def test_defaults_apply_without_settings(analyst):
    shortcuts = services.shortcuts_of(analyst)
    assert shortcuts.enabled and shortcuts.keymap == services.DEFAULT_KEYMAP


def test_update_stores_only_changed_keys_and_is_audited(analyst):
    services.reviewer_settings_update(
        user=analyst, shortcuts_enabled=True, keymap={"skip": "K", "next": "n"}
    )
    row = ReviewerSettings.objects.get(user=analyst)
    assert row.keymap == {"skip": "k"}
    assert services.shortcuts_of(analyst).keymap["skip"] == "k"
    event = AuditEvent.objects.get(verb="reviewer_settings.update")
    assert event.actor == analyst and event.after == {
        "shortcuts_enabled": True,
        "keymap": {"skip": "k"},
    }


@pytest.mark.parametrize(
    ("keymap", "field"),
    [
        ({"launch": "l"}, "keymap.launch"),  # unknown action
        ({"skip": "sk"}, "keymap.skip"),  # more than one character
        ({"skip": ""}, "keymap.skip"),
        ({"skip": " "}, "keymap.skip"),  # space presses buttons
        ({"skip": "\t"}, "keymap.skip"),
        ({"undo": "N"}, "keymap.undo"),  # already the next merchant's key
    ],
)
def test_bad_keymap_is_refused_naming_the_field(analyst, keymap, field):
    with pytest.raises(services.SettingsInvalid) as refused:
        services.reviewer_settings_update(user=analyst, shortcuts_enabled=True, keymap=keymap)
    assert refused.value.field == field
    assert not ReviewerSettings.objects.exists()
    assert not AuditEvent.objects.filter(verb="reviewer_settings.update").exists()


def test_settings_page_saves_and_the_queue_page_gets_the_keys(analyst):
    client = logged_in(analyst)
    response = client.post("/queue/settings/", {"keymap.skip": "k"})  # checkbox unticked
    assert response.status_code == 302 and response["Location"] == "/queue/settings/?saved=1"
    page = client.get("/queue/").content.decode()
    data = json.loads(re.search(r'id="shortcuts"[^>]*>(.*?)</script>', page).group(1))
    assert data == {"enabled": False, "keymap": {**services.DEFAULT_KEYMAP, "skip": "k"}}
    assert 'id="shortcuts-off"' in page


def test_settings_page_refuses_a_duplicate_key_with_400_on_the_field(analyst):
    client = logged_in(analyst)
    response = client.post("/queue/settings/", {"shortcuts_enabled": "on", "keymap.skip": "c"})
    assert response.status_code == 400
    html = response.content.decode()
    assert 'data-field="keymap.skip"' in html
    assert re.search(
        r'id="key-skip"[^>]*aria-invalid="true" aria-describedby="key-skip-error"', html
    )
    assert not ReviewerSettings.objects.exists()


def test_key_hints_show_the_users_keys(analyst):
    services.reviewer_settings_update(user=analyst, shortcuts_enabled=True, keymap={"skip": "k"})
    page = logged_in(analyst).get("/queue/").content.decode()
    assert "<kbd>K</kbd> skip this merchant" in page
