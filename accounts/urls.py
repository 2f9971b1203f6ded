from django.urls import path

from . import views

app_name = "accounts"

urlpatterns = [
    path("tvastegsverifiering/", views.two_factor_overview, name="two_factor"),
    path("tvastegsverifiering/aktivera/", views.two_factor_setup, name="two_factor_setup"),
    path("tvastegsverifiering/kod/", views.two_factor_verify, name="two_factor_verify"),
    path("tvastegsverifiering/stang-av/", views.two_factor_disable, name="two_factor_disable"),
]
