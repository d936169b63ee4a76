from __future__ import annotations

from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.templatetags.static import static
from django.urls import include, path, register_converter
from django.utils.functional import lazy
from django.views.decorators.http import require_safe
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import views
from .converters import IdConverter

# Before the includes below: their routes use <id:...>.
register_converter(IdConverter, "id")

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.health, name="health"),
    path("favicon.ico", RedirectView.as_view(url=lazy(static, str)("favicon.svg"))),
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("queue/", include("labeling.urls")),
    path("lead/", include("review.urls")),
    path("api/v1/", include("labeling.api.urls")),
    path("api/v1/", include("review.api.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    # The docs page is for people: a signed-in one (to the login page otherwise). The split
    # view serves its start-up script from this URL with ?script instead of inline, and the
    # template takes its styles from a file: both as the Content-Security-Policy requires.
    path(
        "api/docs/",
        # GET and HEAD only: DRF's OPTIONS answer would go through the HTML renderer (500).
        require_safe(
            login_required(
                SpectacularSwaggerSplitView.as_view(
                    url_name="schema", template_name="api/swagger_ui.html"
                )
            )
        ),
        name="api-docs",
    ),
    path("admin/", admin.site.urls),
]
