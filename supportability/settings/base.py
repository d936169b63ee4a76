"""Settings shared by every environment; every toggle comes from an environment variable
with an embedded default, so that one command runs the whole app on a fresh machine."""

from __future__ import annotations

import os
from datetime import timedelta
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", BASE_DIR / "var"))


def env_bool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG", False)
SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = "dev-only-insecure-key-do-not-use-in-production"  # noqa: S105
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", "")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_htmx",
    "csp",
    "supportability",
    "labeling",
    "review",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "csp.middleware.CSPMiddleware",
    "supportability.middleware.RequestGuards",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

ROOT_URLCONF = "supportability.urls"
WSGI_APPLICATION = "supportability.wsgi.application"
ASGI_APPLICATION = "supportability.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "supportability.context_processors.roles",
            ],
        },
    },
]

# Database: SQLite under var/ by default; DATABASE_URL points elsewhere (PostgreSQL).
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'supportability.sqlite3'}")
# Health checks: a persistent connection that died between requests (a restart, a
# terminated backend) is replaced at the next request instead of failing it.
DATABASES = {
    "default": dj_database_url.parse(DATABASE_URL, conn_max_age=60, conn_health_checks=True)
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Django's backend, but a migration's table rebuild keeps rows stored before a CHECK
    # constraint existed (supportability.sqlite).
    DATABASES["default"]["ENGINE"] = "supportability.sqlite"
    # SQLite serialises writers; IMMEDIATE takes the write lock at BEGIN so that the claim
    # (read the next item, then lease it) cannot interleave with another writer's claim.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=20000;"
        ),
    }
IS_POSTGRES = DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql"
IS_SQLITE = DATABASES["default"]["ENGINE"] == "supportability.sqlite"

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Request limits: bodies past this many bytes get a 413 (supportability.middleware and the
# API's parser; the reverse proxy in front refuses them too, deploy/nginx.conf). A thousand
# flagged merchants with descriptions fit; a bulk intake past it is split by the sender.
DATA_UPLOAD_MAX_MEMORY_SIZE = int(os.environ.get("MAX_BODY_BYTES", str(2_621_440)))
DATA_UPLOAD_MAX_NUMBER_FIELDS = 1_000

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
]
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "home"
LOGOUT_REDIRECT_URL = "login"

# Login throttling and session lifetime (issue 14). django-axes counts failed logins per
# username and per client IP: the 10th failure within 15 minutes locks both out for 15
# minutes (a refused attempt does not extend it), a lead can unlock sooner (/lead/logins/),
# and supportability.services.logins audits each failure, lockout, refusal and unlock.
# Only wrong passwords count, so the test suite's many right logins never lock it out.
# A session ends after 30 idle minutes or 12 hours after its login, whichever comes first
# (supportability.middleware.SessionLifetime); logout deletes it server side.
INSTALLED_APPS += ["axes"]
MIDDLEWARE += ["supportability.middleware.SessionLifetime", "axes.middleware.AxesMiddleware"]
# A signed-in caller refused an object a URL names (403, 404) is an audit event.
MIDDLEWARE += ["supportability.middleware.AccessDeniedAudit"]
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = 10
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
AXES_HANDLER = "supportability.services.logins.AuditedAxesHandler"
AXES_LOCKOUT_CALLABLE = "supportability.services.logins.lockout_response"
AXES_DISABLE_ACCESS_LOG = True  # successful logins are not throttled; no table per login
AXES_VERBOSE = False
SESSION_IDLE_SECONDS = 30 * 60
SESSION_ABSOLUTE_SECONDS = 12 * 60 * 60
SESSION_TOUCH_SECONDS = 60
SESSION_COOKIE_AGE = SESSION_IDLE_SECONDS

# Content-Security-Policy (django-csp), in every environment so that `make run`, the tests
# and the browser tests all run under it: scripts, styles, fetches and form posts only from
# this origin; no inline script or style, no eval (htmx is configured to need none:
# templates/base.html); images may also be data: URLs (Swagger UI's icons); never framed,
# no <base>, no plugins. The API docs page loads its start-up script from its own URL
# (supportability/urls.py). DEBUG's technical 404 and 500 pages go without it (django-csp).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "connect-src": [SELF],
        "frame-ancestors": [NONE],
        "form-action": [SELF],
        "base-uri": [NONE],
        "object-src": [NONE],
    },
}

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "supportability.api.authentication.BearerTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_SCHEMA_CLASS": "supportability.api.schema.ApiSchema",
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["supportability.api.parsers.JSONBodyParser"],
    "EXCEPTION_HANDLER": "supportability.api.errors.exception_handler",
    # Each service token and each signed-in person has a budget of requests; past it, 429
    # with Retry-After (supportability/api/throttles.py).
    "DEFAULT_THROTTLE_CLASSES": [
        "supportability.api.throttles.TokenRateThrottle",
        "supportability.api.throttles.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "token": os.environ.get("API_TOKEN_RATE", "3000/min"),
        "user": os.environ.get("API_USER_RATE", "600/min"),
    },
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Supportability Review API",
    "DESCRIPTION": "Intake of model-flagged merchants, the review queue, and labels.",
    "VERSION": "1",
    # 3.1: its schemas are JSON Schema 2020-12, as the explanation's is (`prefixItems`).
    "OAS_VERSION": "3.1.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from local static files: no CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    # The schema (and the docs page, which reads it) only for a signed-in user or a token.
    "SERVE_PERMISSIONS": ["rest_framework.permissions.IsAuthenticated"],
}

# Celery: an embedded file-system broker under var/ by default; CELERY_BROKER_URL points
# at Redis in production. JSON only; tasks take ids, ack late, and have time limits.
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "filesystem://")
CELERY_BROKER_FOLDER = VAR_DIR / "broker"
if CELERY_BROKER_URL.startswith("filesystem://"):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(CELERY_BROKER_FOLDER / "queue"),
        "data_folder_out": str(CELERY_BROKER_FOLDER / "queue"),
        "processed_folder": str(CELERY_BROKER_FOLDER / "processed"),
        "control_folder": str(CELERY_BROKER_FOLDER / "control"),
        "store_processed": False,
    }
    for _folder in ("queue", "processed", "control"):
        (CELERY_BROKER_FOLDER / _folder).mkdir(parents=True, exist_ok=True)
else:
    # A publisher whose broker went away gives up within a second (kombu retries for ever
    # by default, and the relay would sit in one publish for the whole outage, unable to
    # say the broker is down). The workers' own reconnection is unaffected (Celery passes
    # its retry settings explicitly).
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "max_retries": 2,
        "interval_start": 0,
        "interval_step": 0.2,
        "interval_max": 0.5,
    }
CELERY_RESULT_BACKEND = None
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Reconnect to a broker that went away every 2 s at most (supportability.worker_consumer),
# and never give up: Celery's default of 100 attempts ended a worker after 200 s of outage.
CELERY_WORKER_CONSUMER = "supportability.worker_consumer:Consumer"
CELERY_BROKER_CONNECTION_MAX_RETRIES = None
CELERY_TASK_SOFT_TIME_LIMIT = 600
CELERY_TASK_TIME_LIMIT = 660
CELERY_TASK_ALWAYS_EAGER = env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE = {
    "relay-outbox": {"task": "supportability.tasks.outbox_relay_tick", "schedule": 2.0},
    "recover-runs": {"task": "review.tasks.runs_recover", "schedule": 30.0},
    "expire-leases": {"task": "labeling.tasks.leases_expire", "schedule": 30.0},
    "raise-sla-breaches": {"task": "labeling.tasks.sla_breaches_raise", "schedule": 60.0},
    "draw-qa-audits": {"task": "review.tasks.qa_audits_draw", "schedule": 60.0},
    "compute-quality": {"task": "review.tasks.quality_compute", "schedule": 900.0},
    "retrain-if-due": {"task": "review.tasks.retrain_if_due", "schedule": 300.0},
    "noise-check": {"task": "review.tasks.noise_check", "schedule": 3600.0},
    "top-up-queues": {"task": "review.tasks.queues_top_up", "schedule": 300.0},
    "seal-audit": {"task": "supportability.tasks.audit_seal_tick", "schedule": 5.0},
    "verify-audit": {
        "task": "supportability.tasks.audit_verify_tick",
        "schedule": float(os.environ.get("AUDIT_VERIFY_SECONDS", "3600")),
    },
}

# The audit trail (supportability.audit): events are sealed into the hash chain by the
# "seal-audit" beat task, at most AUDIT_SEAL_BATCH per transaction; the chain's head goes to
# a signed checkpoint outside the database after every seal and at least every
# AUDIT_CHECKPOINT_INTERVAL seconds. AUDIT_CHECKPOINT_KEY signs them: keep it out of the
# database and its backups (production refuses to start without it; elsewhere a random key
# is kept in AUDIT_CHECKPOINT_KEY_FILE). AUDIT_CHECKPOINT_DIR must be one directory that
# every worker reaches (or replace AUDIT_CHECKPOINT_STORE with an object store).
AUDIT_SEAL_BATCH = int(os.environ.get("AUDIT_SEAL_BATCH", "1000"))
AUDIT_CHECKPOINT_INTERVAL = float(os.environ.get("AUDIT_CHECKPOINT_INTERVAL", "300"))
AUDIT_CHECKPOINT_DIR = Path(os.environ.get("AUDIT_CHECKPOINT_DIR", VAR_DIR / "audit-checkpoints"))
AUDIT_CHECKPOINT_KEY = os.environ.get("AUDIT_CHECKPOINT_KEY", "")
AUDIT_CHECKPOINT_KEY_FILE = Path(
    os.environ.get("AUDIT_CHECKPOINT_KEY_FILE", VAR_DIR / "audit-checkpoint.key")
)
AUDIT_CHECKPOINT_KEY_CREATE = True  # make a random key in the file when there is none
AUDIT_CHECKPOINT_STORE = os.environ.get(
    "AUDIT_CHECKPOINT_STORE", "supportability.audit.checkpoints.FileCheckpointStore"
)

# The transactional outbox (supportability.outbox): a running task heartbeats every
# OUTBOX_HEARTBEAT_SECONDS; a redelivery takes over a task silent for
# OUTBOX_TAKEOVER_SECONDS; a message published but never started is published again after
# OUTBOX_REPUBLISH_SECONDS; a retraining whose running step is silent for
# RUN_STALE_SECONDS is recovered as failed (a lead can retry it).
OUTBOX_HEARTBEAT_SECONDS = float(os.environ.get("OUTBOX_HEARTBEAT_SECONDS", "10"))
OUTBOX_TAKEOVER_SECONDS = float(os.environ.get("OUTBOX_TAKEOVER_SECONDS", "30"))
OUTBOX_REPUBLISH_SECONDS = float(os.environ.get("OUTBOX_REPUBLISH_SECONDS", "300"))
RUN_STALE_SECONDS = float(os.environ.get("RUN_STALE_SECONDS", "120"))
# A broker that does not answer fails a publish in seconds rather than hanging the relay.
CELERY_BROKER_CONNECTION_TIMEOUT = 3

# The review queue.
LEASE_SECONDS = int(os.environ.get("LEASE_SECONDS", "600"))
# How long after a label its analyst may take it back (Undo on the review screen).
LABEL_UNDO_SECONDS = 30
# The promotion gate's evidence: held-out labels each category needs before the gate may
# pass a candidate (supportability.ml.evaluation.gate); fewer, and a lead decides.
GATE_MIN_LABELS_PER_CATEGORY = int(os.environ.get("GATE_MIN_LABELS_PER_CATEGORY", "30"))

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
}
