"""Django's STORAGES from the environment (read by config/settings/base.py).

FILE_STORAGE: where uploaded and generated files live, shared by every app server.
  ``database`` (default): in PostgreSQL (storage.backends.DatabaseStorage), so
      one database backup holds the agreements, their history and their files.
  ``s3``: S3-compatible object storage (django-storages), configured by
      S3_BUCKET (required), S3_ENDPOINT_URL (e.g. https://s3.example.se; empty
      for AWS), S3_REGION, S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY (or the
      usual AWS_* variables / instance role), S3_LOCATION (a key prefix) and
      S3_ADDRESSING_STYLE (``path`` for most self-hosted servers, or
      ``virtual``). Objects are private; nothing is served from the bucket
      directly.
"""

from django.core.exceptions import ImproperlyConfigured

STATICFILES = {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"}
CHOICES = ("database", "s3")


def storages_from_env(env):
    kind = env.str("FILE_STORAGE", default="database").strip().lower()
    if kind not in CHOICES:
        raise ImproperlyConfigured(f"The environment variable FILE_STORAGE must be one of {', '.join(CHOICES)}.")
    if kind == "database":
        default = {"BACKEND": "storage.backends.DatabaseStorage"}
    else:
        bucket = env.str("S3_BUCKET", default="").strip()
        if not bucket:
            raise ImproperlyConfigured("The environment variable S3_BUCKET is required when FILE_STORAGE=s3.")
        addressing = env.str("S3_ADDRESSING_STYLE", default="path").strip() or None
        if addressing not in (None, "path", "virtual", "auto"):
            raise ImproperlyConfigured("The environment variable S3_ADDRESSING_STYLE must be path, virtual or auto.")
        options = {
            "bucket_name": bucket,
            "endpoint_url": env.str("S3_ENDPOINT_URL", default="").strip() or None,
            "region_name": env.str("S3_REGION", default="").strip() or None,
            "location": env.str("S3_LOCATION", default="").strip(),
            "addressing_style": addressing,
            # Private objects, never a public or signed URL: the download views serve them.
            "default_acl": "private",
            "querystring_auth": True,
            # The key is the content's hash: the same key is the same bytes.
            "file_overwrite": True,
        }
        access_key = env.str("S3_ACCESS_KEY_ID", default="").strip()
        secret_key = env.str("S3_SECRET_ACCESS_KEY", default="").strip()
        if bool(access_key) != bool(secret_key):
            raise ImproperlyConfigured("Set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither.")
        if access_key:
            options.update(access_key=access_key, secret_key=secret_key)
        default = {"BACKEND": "storage.backends.ContentAddressedS3Storage", "OPTIONS": options}
    return {"default": default, "staticfiles": STATICFILES}
