"""Fixtures shared with the county tests."""

from tests.county.conftest import agreements, ludvika_head  # noqa: F401
