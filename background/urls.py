from django.urls import path

from . import views

app_name = "background"

urlpatterns = [
    path("", views.preferences, name="preferences"),
    path("utkorg/", views.outbox, name="outbox"),
    path("utkorg/<int:pk>/skicka-igen/", views.outbox_retry, name="outbox_retry"),
]
