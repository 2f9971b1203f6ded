import gc
import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")
application = get_wsgi_application()


def _load_what_every_request_reads():
    """The URLconf and every language's translations, which Django would
    otherwise load on the first request that needs them."""
    from django.conf import settings
    from django.urls import reverse
    from django.utils import translation

    reverse("home")
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            translation.gettext("Samverkan")


# What is loaded now (Django, the apps, their models, the URLs and translations:
# some 150,000 objects) lives as long as the process. Moved out of the garbage
# collector's sight, a full collection no longer walks it: on the load data one
# took about 70 ms and came every 40 or so requests, a pause in the middle of
# whichever request was running (#20). With gunicorn's --preload (bench/run.py)
# it also keeps the workers' copies of those pages shared.
_load_what_every_request_reads()
gc.freeze()
