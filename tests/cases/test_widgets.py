"""FastSelect writes the HTML Django's own Select writes, faster; LabelledModelChoiceField
the options of Django's ModelChoiceField without building an instance per option."""

import pytest
from django import forms
from django.db.models import CharField, Value
from django.db.models.functions import Coalesce, NullIf
from django.test.html import parse_html

from accounts.models import Organisation, User
from accounts.services import user_create
from cases.widgets import FastSelect, LabelledModelChoiceField
from tests.perf.conftest import instances_built

pytestmark = pytest.mark.django_db


def both(field, data=None, initial=None):
    """(Django's HTML, FastSelect's HTML) of the same bound field."""

    def render(widget):
        class Form(forms.Form):
            choice = field.__class__(**{**field_kwargs(field), "widget": widget})

        form = Form(data=data, initial=initial)
        form.is_valid()
        return str(form["choice"])

    return render(forms.Select), render(FastSelect)


def field_kwargs(field):
    kwargs = {"required": field.required, "label": field.label}
    if isinstance(field, forms.ModelChoiceField):
        kwargs["queryset"] = field.queryset
    else:
        kwargs["choices"] = field.choices
    return kwargs


MUNICIPALITIES = forms.ModelChoiceField(
    queryset=Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).order_by("name"), required=False
)
STAGES = forms.ChoiceField(choices=[("", "---------"), ("a", "Utkast <1>"), ("b", 'Granskning & "svar"')])


@pytest.mark.parametrize(
    ("field", "data", "initial"),
    [
        (MUNICIPALITIES, None, None),
        (MUNICIPALITIES, {"choice": "notanumber"}, None),  # invalid: aria-invalid, nothing selected
        (STAGES, {"choice": "b"}, None),
        (STAGES, None, {"choice": "a"}),
        (STAGES, {"choice": ""}, None),  # required and empty
    ],
)
def test_the_same_html_as_djangos_select(field, data, initial):
    ours, djangos = both(field, data, initial)[1], both(field, data, initial)[0]
    assert parse_html(ours) == parse_html(djangos)
    assert ours.count("<option") == len(list(field.choices))


def test_a_selected_municipality_is_selected():
    falun = Organisation.objects.get(kommunkod="2080")
    djangos, ours = both(MUNICIPALITIES, {"choice": str(falun.pk)})
    assert parse_html(ours) == parse_html(djangos)
    assert f'<option value="{falun.pk}" selected>Falun</option>' in ours


def labelled_and_djangos(queryset, data=None, **labelled):
    """(Django's ModelChoiceField with its Select, LabelledModelChoiceField) rendered for the same data."""

    class Djangos(forms.Form):
        choice = forms.ModelChoiceField(queryset=queryset, required=False)

    class Ours(forms.Form):
        choice = LabelledModelChoiceField(queryset=queryset, required=False, **labelled)

    rendered = []
    for form_class in (Djangos, Ours):
        form = form_class(data=data)
        form.is_valid()
        rendered.append(str(form["choice"]))
    return rendered


@pytest.mark.parametrize("data", [None, "falun", {"choice": "notanumber"}])
def test_labelled_choices_are_djangos_choices_without_the_instances(data):
    """The municipality filter reads (id, name) values, not 290 instances, and writes the same HTML."""
    queryset = Organisation.objects.filter(kind=Organisation.Kind.MUNICIPALITY).order_by("name")
    if data == "falun":
        data = {"choice": str(Organisation.objects.get(kommunkod="2080").pk)}
    djangos, ours = labelled_and_djangos(queryset, data)
    assert parse_html(ours) == parse_html(djangos)
    assert ours.count("<option") == queryset.count() + 1
    form = type("F", (forms.Form,), {"choice": LabelledModelChoiceField(queryset=queryset, required=False)})(data=data)
    with instances_built() as built:
        str(form["choice"])
    assert built["accounts.Organisation"] <= 1  # at most the chosen one, cleaned: none per option


def test_a_persons_label_is_what_str_gives():
    """The audit log's person filter: the full name, else the e-mail address (User.__str__)."""
    for email, name in (("asa.berg@example.se", "Åsa Berg"), ("nils.oberg@example.se", "Nils Öberg")):
        user_create(actor=None, email=email, full_name=name)
    queryset = User.objects.order_by("full_name", "email")
    label = Coalesce(NullIf("full_name", Value("")), "email", output_field=CharField())
    djangos, ours = labelled_and_djangos(queryset, label_expression=label)
    assert parse_html(ours) == parse_html(djangos)
    assert ours.count("<option") == queryset.count() + 1 > 2
