from django import forms
from django.utils.translation import gettext_lazy as _

from .selectors import MAX_LENGTH


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Search"),
        max_length=MAX_LENGTH,
        required=False,
        strip=True,
        help_text=_(
            'Case number, municipality or words from the text. "Quoted words" as a phrase, -word to leave out.'
        ),
    )
