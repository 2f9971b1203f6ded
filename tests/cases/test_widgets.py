"""FastSelect writes the HTML Django's own Select writes, faster."""

import pytest
from django import forms
from django.test.html import parse_html

from accounts.models import Organisation
from cases.widgets import FastSelect

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
