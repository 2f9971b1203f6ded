"""Form parts every domain's forms share: putting a service's errors on a
form, the date input and the checked file upload."""

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from .files import MAX_UPLOAD_BYTES, validate_upload


def apply_errors(form, error: ValidationError):
    """Put a service's ValidationError on the form: next to its field where the
    form has one, otherwise at the top."""
    if hasattr(error, "error_dict"):
        for field, messages in error.message_dict.items():
            form.add_error(field if field in form.fields else None, messages)
    else:
        form.add_error(None, error.messages)


class DateInput(forms.DateInput):
    input_type = "date"

    def __init__(self, **kwargs):
        super().__init__(format="%Y-%m-%d", **kwargs)


class UploadField(forms.FileField):
    """A file checked by its content (pdf, docx, odt, png, jpg), at most 20 MB."""

    default_help = _("PDF, Word (docx), OpenDocument (odt), PNG or JPEG, at most %(max)s MB.") % {
        "max": MAX_UPLOAD_BYTES // (1024 * 1024)
    }

    def __init__(self, **kwargs):
        kwargs.setdefault("help_text", self.default_help)
        kwargs.setdefault("widget", forms.ClearableFileInput(attrs={"accept": ".pdf,.docx,.odt,.png,.jpg,.jpeg"}))
        super().__init__(**kwargs)

    def clean(self, data, initial=None):
        uploaded = super().clean(data, initial)
        if uploaded:
            validate_upload(uploaded)
        return uploaded


def ask_for_files_again(form):
    """A form that comes back with errors cannot give the browser back the file
    chosen in it. Call it when the page goes back with errors: where a good file
    was chosen, it says so next to the file field (and so in the error summary):
    choose it again."""
    if not form.is_bound:
        return
    for name, field in form.fields.items():
        chosen = form.files.get(form.add_prefix(name))
        if isinstance(field, forms.FileField) and chosen and name not in form.errors:
            form.add_error(
                name,
                _("You chose “%(name)s”. Choose it again: a file cannot be kept when the form has other errors.")
                % {"name": chosen.name},
            )
