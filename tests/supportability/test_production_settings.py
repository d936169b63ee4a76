"""Production settings (supportability.settings.production): Django's deployment checklist
passes with nothing silenced, and behind the proxy plain http is sent to https (a load
balancer's /healthz probe excepted) with HSTS and the other security headers."""

from __future__ import annotations

import importlib
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management.utils import get_random_secret_key

ROOT = Path(__file__).resolve().parents[2]


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    """What an operator gives production (deploy/systemd/env.example), nothing more."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("DJANGO_", "SECURE_", "HSTS_", "DEBUG", "SECRET_KEY", "AUDIT_"))
    }
    env.update(
        DJANGO_SETTINGS_MODULE="supportability.settings.production",
        SECRET_KEY=get_random_secret_key(),  # 50 characters
        DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",  # never contacted by the checks
        ALLOWED_HOSTS="review.example.com",
        CSRF_TRUSTED_ORIGINS="https://review.example.com",
        VAR_DIR=str(tmp_path),
        AUDIT_CHECKPOINT_KEY=get_random_secret_key(),
        AUDIT_CHECKPOINT_DIR=str(tmp_path / "checkpoints"),
    )
    env.update(extra)
    return env


def deploy_check(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_deploy_check_reports_no_issues(tmp_path):
    result = deploy_check(production_env(tmp_path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_does_not_start_without_the_checkpoint_key(tmp_path):
    env = production_env(tmp_path)
    del env["AUDIT_CHECKPOINT_KEY"]
    result = deploy_check(env)
    assert result.returncode != 0
    assert "supportability.E001" in result.stderr + result.stdout
    assert "AUDIT_CHECKPOINT_KEY" in result.stderr + result.stdout
    key_file = tmp_path / "checkpoint.key"
    key_file.write_text("a key from the secret store\n")
    assert deploy_check(env | {"AUDIT_CHECKPOINT_KEY_FILE": str(key_file)}).returncode == 0


def test_deploy_check_names_what_an_operator_turned_off(tmp_path):
    """The check can fail: HSTS preload and secure cookies turned off are reported."""
    result = deploy_check(production_env(tmp_path, HSTS_PRELOAD="0", SECURE_COOKIES="0"))
    assert result.returncode != 0
    for warning in ("security.W021", "security.W012", "security.W016"):
        assert warning in result.stderr


@pytest.fixture
def production(settings):
    """The security settings of production.py, on the test settings (the test client runs
    the same middleware; only these differ)."""
    module = importlib.import_module("supportability.settings.production")
    for name in dir(module):
        if name.startswith(("SECURE_", "SESSION_COOKIE_", "CSRF_COOKIE_", "X_FRAME")):
            setattr(settings, name, getattr(module, name))
    return module


HTTPS = {"HTTP_X_FORWARDED_PROTO": "https"}


@pytest.mark.django_db
def test_plain_http_is_sent_to_https(client, production):
    response = client.get("/login/?next=/queue/")
    assert response.status_code == 301
    assert response["Location"] == "https://testserver/login/?next=/queue/"


@pytest.mark.django_db
def test_health_probe_answers_over_plain_http(client, production):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_https_answers_carry_hsts_and_the_security_headers(client, production):
    response = client.get("/login/", **HTTPS)
    assert response.status_code == 200
    assert response["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains; preload"
    assert response["Referrer-Policy"] == "same-origin"
    assert response["Cross-Origin-Opener-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "frame-ancestors 'none'" in response["Content-Security-Policy"]


@pytest.mark.django_db
def test_login_over_https_sets_secure_httponly_cookies(client, production, django_user_model):
    django_user_model.objects.create_user("prod-user", password="pw-for-tests")
    client.get("/login/", **HTTPS)
    response = client.post(
        "/login/", {"username": "prod-user", "password": "pw-for-tests"}, **HTTPS
    )
    assert response.status_code == 302
    session = response.cookies["sessionid"]
    assert session["secure"] and session["httponly"] and session["samesite"] == "Lax"
    assert client.cookies["csrftoken"]["secure"]
