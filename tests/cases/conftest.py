"""The direct tests of the domain's services: the state a rule acts on is
built with the factories (tests/factories), the rule is called as a function,
and what it wrote is read back, history rows included (tests/cases/helpers.py).
The clock stands on a working day inside the plan period 2023–2026, so dates
in the rules (not in the future, within the period) hold whenever the tests run."""

import datetime
import zoneinfo

import pytest

from .helpers import TODAY


@pytest.fixture(autouse=True)
def on_a_working_day(time_machine):
    time_machine.move_to(
        datetime.datetime.combine(TODAY, datetime.time(9), tzinfo=zoneinfo.ZoneInfo("Europe/Stockholm")), tick=False
    )
