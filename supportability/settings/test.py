"""pytest: SQLite in memory unless DATABASE_URL says otherwise; Celery eager unless a test
starts a real worker."""

from __future__ import annotations

import os

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("SECRET_KEY", "test-only-secret-key")
os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
# The suite calls the API thousands of times a minute; the throttle's own test sets a rate.
os.environ.setdefault("API_TOKEN_RATE", "1000000/min")
os.environ.setdefault("API_USER_RATE", "1000000/min")
# Tests put checkpoints in a directory of their own (the root conftest); this is the key.
os.environ.setdefault("AUDIT_CHECKPOINT_KEY", "test-only-audit-checkpoint-key-0123456789")

from .base import *  # noqa: F403
from .base import DATABASES, STATIC_ROOT, VAR_DIR

if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # Flushing between transactional tests lifts the TRUNCATE guards (tests/postgres_flush).
    DATABASES["default"]["ENGINE"] = "tests.postgres_flush"
if DATABASES["default"]["ENGINE"] == "supportability.sqlite":
    DATABASES["default"]["NAME"] = ":memory:"
    DATABASES["default"]["TEST"] = {"NAME": ":memory:"}
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
CELERY_BROKER_FOLDER = VAR_DIR / "test-broker"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns when it is missing
ALLOWED_HOSTS = ["*"]
LOGGING = {"version": 1, "disable_existing_loggers": False}
