from django.urls import path

from . import people, views

app_name = "accounts"

urlpatterns = [
    path("tvastegsverifiering/", views.two_factor_overview, name="two_factor"),
    path("tvastegsverifiering/aktivera/", views.two_factor_setup, name="two_factor_setup"),
    path("tvastegsverifiering/kod/", views.two_factor_verify, name="two_factor_verify"),
    path("tvastegsverifiering/stang-av/", views.two_factor_disable, name="two_factor_disable"),
    path("tvastegsverifiering/reservkod/", views.two_factor_recovery, name="two_factor_recovery"),
    path("tvastegsverifiering/reservkoder/", views.recovery_codes, name="recovery_codes"),
    path("tvastegsverifiering/skicka-lank/", views.enrolment_request, name="enrolment_request"),
    path("tvastegsverifiering/lank/<str:token>/", views.enrolment_link, name="enrolment_link"),
    path("inloggningar/", views.sign_ins, name="sign_ins"),
    path("inloggningar/avsluta/", views.sessions_end, name="sessions_end"),
    path("personer/", people.people, name="people"),
    path("personer/<int:pk>/", people.person, name="person"),
    path("inbjudan/<str:token>/", people.invitation, name="invitation"),
    path("organisationer/", people.organisations, name="organisations"),
    path("organisationer/<int:pk>/", people.organisation, name="organisation"),
    path("franvaro/", views.absences, name="absences"),
    path("franvaro/<int:pk>/avsluta/", views.absence_end, name="absence_end"),
    path("oidc/<slug:provider>/", views.oidc_login, name="oidc_login"),
    path("oidc/<slug:provider>/callback/", views.oidc_callback, name="oidc_callback"),
]
