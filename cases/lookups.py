"""``field__any=[…]``: the rows whose value is one of a list, sent to
PostgreSQL as one array parameter (``= ANY(%s)``) instead of ``IN (%s, %s, …)``
with a parameter per value.

For the pages that read the rows belonging to a few hundred others (the
county overview's follow-ups of 290 agreements): Django prepares each value
of an ``__in`` list as a lookup of its own and psycopg then splits a query
of 290 placeholders in Python, about a millisecond of CPU per query at that
size, on every request. An empty list matches nothing, and the query still
runs (``__in=[]`` skips it), so a page's number of queries does not depend on
what it found. Other databases (SQLite for ``make run``) get the ``IN`` list."""

from django.db import models
from django.db.models import Lookup


class AnyOf(Lookup):
    """``= ANY`` for integer columns (ids and foreign keys to them)."""

    lookup_name = "any"
    prepare_rhs = False

    def get_prep_lookup(self):
        field = self.lhs.output_field
        return [field.get_prep_value(value) for value in self.rhs]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        if not self.rhs:
            return "1 = 0", []
        placeholders = ", ".join(["%s"] * len(self.rhs))
        return f"{lhs} IN ({placeholders})", (*lhs_params, *self.rhs)

    def as_postgresql(self, compiler, connection):
        # The array as its text ("{1,2,3}") with the column's type: psycopg would
        # otherwise look at every element to choose the array's type.
        lhs, lhs_params = self.process_lhs(compiler, connection)
        array = "{" + ",".join(str(int(value)) for value in self.rhs) + "}"
        return f"{lhs} = ANY(%s::{self.lhs.output_field.cast_db_type(connection)}[])", (*lhs_params, array)


def register():
    for field in (models.IntegerField, models.ForeignKey):
        field.register_lookup(AnyOf)
