"""Table rows written in Python, for the long lists (inbox, queue, archive,
agreement list, county overview).

At national scale most of a list page's time went to the template engine
looking up each cell's variables, one model instance per related row, and
Django's ``get_FOO_display`` (which translates every choice of the field each
time it is called). The list pages therefore read their rows as plain values
and write them with one template tag each; this is what those tags share:
escaping, a URL reversed once per page, and labels and dates formatted once
per page."""

import html
from datetime import datetime

from django.template.defaultfilters import date as date_filter
from django.urls import reverse
from django.utils import timezone

_PLACEHOLDER = "987654321"


def esc(value):
    """HTML-escaped text (what Django's escape does, without its checks for lazy strings)."""
    return html.escape(str(value))


class RowWriter:
    """What one page's rows share: labels and dates formatted once, URLs
    reversed once with a placeholder for the ids."""

    def __init__(self):
        self._labels = {}
        self._dates = {}
        self._urls = {}

    def label(self, key, make):
        """An escaped display label (a stage, a status, a step's title), made once per page."""
        if key not in self._labels:
            self._labels[key] = esc(make())
        return self._labels[key]

    def day(self, value, fmt="j F Y"):
        """An escaped date (or date and time: ``fmt``) in the active language."""
        if value is None:
            return "–"
        key = (value, fmt)
        if key not in self._dates:
            # As the template engine does before its date filter: times in the local zone.
            shown = timezone.localtime(value) if isinstance(value, datetime) and timezone.is_aware(value) else value
            self._dates[key] = esc(date_filter(shown, fmt))
        return self._dates[key]

    def url(self, name, *args):
        """The escaped address of URL ``name`` with ``args`` (ids or names) put in."""
        if name not in self._urls:
            placeholders = [f"{_PLACEHOLDER}{i}" for i in range(len(args))]
            self._urls[name] = (esc(reverse(name, args=placeholders)), placeholders)
        pattern, placeholders = self._urls[name]
        for placeholder, value in zip(placeholders, args, strict=True):
            pattern = pattern.replace(placeholder, esc(value), 1)
        return pattern


def choice_label(choices, value):
    """The label of ``value`` among a TextChoices' ``choices`` (translated now)."""
    return dict(choices).get(value, value)
