"""A <select> written in Python.

Django renders a select through templates, one template include per option.
The agreement list's filter offers 290 municipalities at national scale: 700
includes, about a third of the page's time (cProfile). ``FastSelect`` writes
the same HTML (Django's select.html, select_option.html and attrs.html) with
string joins. It takes flat choices; with groups it falls back to Django's.

``LabelledModelChoiceField`` is a ModelChoiceField whose options are read as
(id, label) values rather than as one model instance per option: 290
municipalities (or every person of the audit log's filter) made that many
instances on every request of the pages that offer them."""

import html

from django import forms
from django.forms.models import ModelChoiceIterator
from django.forms.utils import flatatt
from django.utils.html import format_html
from django.utils.safestring import mark_safe


def _escape(value):
    """What Django's conditional_escape gives, without its wrapper for lazy
    strings (a third of a long select's time)."""
    return value.__html__() if hasattr(value, "__html__") else html.escape(str(value))


class FastSelect(forms.Select):
    def render(self, name, value, attrs=None, renderer=None):
        values = set(self.format_value(value))
        options, selected_one = [], False
        for option_value, label in self.choices:  # iterated once: list() would count a queryset's rows first
            if isinstance(label, (list, tuple)):  # a group
                return super().render(name, value, attrs, renderer)
            text = str("" if option_value is None else option_value)
            selected = not selected_one and text in values
            selected_one = selected_one or selected
            options.append(
                f'<option value="{_escape(text)}"{" selected" if selected else ""}>{_escape(label)}</option>'
            )
        final_attrs = self.build_attrs(self.attrs, attrs)
        body = mark_safe("\n  ".join(options))  # noqa: S308 - every value and label escaped above
        return format_html('<select name="{}"{}>\n  {}\n</select>', name, flatatt(final_attrs), body)


class LabelledChoiceIterator(ModelChoiceIterator):
    """The field's options as (id, label) read with ``values_list``."""

    def __iter__(self):
        if self.field.empty_label is not None:
            yield ("", self.field.empty_label)
        yield from self.queryset.values_list("pk", self.field.label_expression)


class LabelledModelChoiceField(forms.ModelChoiceField):
    """A ModelChoiceField whose labels are a column or expression of the row
    (``label_expression``, by default "name"), what ``str()`` of the model
    gives, read without building the instances. Cleaning is ModelChoiceField's."""

    iterator = LabelledChoiceIterator
    widget = FastSelect

    def __init__(self, queryset, *, label_expression="name", **kwargs):
        self.label_expression = label_expression
        super().__init__(queryset, **kwargs)
