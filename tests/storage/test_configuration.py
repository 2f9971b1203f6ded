"""FILE_STORAGE chooses the backend. No S3 server is reachable here, so the S3
alternative is tested as configuration (the storage Django builds from it)
and through the content addressing it shares with the database storage, on
Django's in-memory storage."""

import hashlib

import environ
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.files.base import ContentFile
from django.core.files.storage import InMemoryStorage, storages

from storage.backends import ContentAddressedMixin, ContentAddressedS3Storage, DatabaseStorage
from storage.conf import storages_from_env


def configured(monkeypatch, **variables):
    for name in ("FILE_STORAGE", "S3_BUCKET", "S3_ENDPOINT_URL", "S3_REGION", "S3_LOCATION", "S3_ADDRESSING_STYLE"):
        monkeypatch.delenv(name, raising=False)
    for name in ("S3_ACCESS_KEY_ID", "S3_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name, raising=False)
    for name, value in variables.items():
        monkeypatch.setenv(name, value)
    return storages_from_env(environ.Env())


def build(config):
    """The storage Django creates from the configuration."""
    return storages.create_storage(config["default"])


def test_the_database_is_the_default(monkeypatch):
    config = configured(monkeypatch)
    assert config["default"] == {"BACKEND": "storage.backends.DatabaseStorage"}
    assert "staticfiles" in config
    assert isinstance(build(config), DatabaseStorage)


def test_s3_is_configured_from_the_environment(monkeypatch):
    config = configured(
        monkeypatch,
        FILE_STORAGE="s3",
        S3_BUCKET="samverkan-filer",
        S3_ENDPOINT_URL="https://s3.regiondalarna.example",
        S3_REGION="eu-north-1",
        S3_LOCATION="prod",
        S3_ACCESS_KEY_ID="AKIAEXAMPLE",
        S3_SECRET_ACCESS_KEY="secret-example",
    )
    storage = build(config)
    assert isinstance(storage, ContentAddressedS3Storage)
    assert (storage.bucket_name, storage.endpoint_url, storage.region_name, storage.location) == (
        "samverkan-filer",
        "https://s3.regiondalarna.example",
        "eu-north-1",
        "prod",
    )
    assert (storage.access_key, storage.secret_key) == ("AKIAEXAMPLE", "secret-example")
    assert storage.default_acl == "private" and storage.file_overwrite is True
    assert storage.addressing_style == "path"
    with pytest.raises(NotImplementedError):
        storage.url("sha256/" + "0" * 64)  # never a public or signed link: the views serve files


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"FILE_STORAGE": "ftp"}, "FILE_STORAGE"),
        ({"FILE_STORAGE": "s3"}, "S3_BUCKET"),
        ({"FILE_STORAGE": "s3", "S3_BUCKET": "b", "S3_ACCESS_KEY_ID": "only-half"}, "S3_SECRET_ACCESS_KEY"),
        ({"FILE_STORAGE": "s3", "S3_BUCKET": "b", "S3_ADDRESSING_STYLE": "sideways"}, "S3_ADDRESSING_STYLE"),
    ],
)
def test_a_bad_configuration_names_the_variable(monkeypatch, variables, named):
    with pytest.raises(ImproperlyConfigured, match=named):
        configured(monkeypatch, **variables)


class ContentAddressedMemory(ContentAddressedMixin, InMemoryStorage):
    pass


def test_content_addressing_on_another_backend():
    storage = ContentAddressedMemory()
    data = b"%PDF-1.4 signed agreement"
    name = storage.save("signerat/avtal.pdf", ContentFile(data))
    assert name == "sha256/" + hashlib.sha256(data).hexdigest()
    assert storage.save("another-name.pdf", ContentFile(data)) == name
    with storage.open(name) as handle:
        assert handle.read() == data
    assert storage.listdir("sha256")[1] == [name.split("/")[1]]
