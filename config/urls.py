from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from django.views.generic import TemplateView
from django.views.i18n import set_language

from accounts import views as account_views
from workflows.views import pages

urlpatterns = [
    path("", pages.home, name="home"),
    path("arbete/", include("workflows.urls")),
    path("e-post/", include("background.urls")),
    path("login/", account_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("konto/", include("accounts.urls")),
    path("i18n/setlang/", set_language, name="set_language"),
    # The accessibility statement (tillgänglighetsredogörelse, lagen om tillgänglighet till digital offentlig service)
    path("tillganglighet/", TemplateView.as_view(template_name="accessibility.html"), name="accessibility"),
    path("admin/", admin.site.urls),
    path("api/v1/", include("api.urls")),
]

# A database that cannot be reached gets the 503 page; anything else the 500 page (ops/errors.py).
handler500 = "ops.errors.server_error"
