"""Querysets compiled once and run many times for another agreement (#20).

Some pages read the same handful of queries on every request with only the
agreement's id different (the timeline, the agreement page). Building such a
queryset and compiling it to SQL was most of their time, not running it. Here
a queryset is made once with a stand-in id, compiled per database
connection, and run with the real id put where the stand-in was among its
parameters: never written into the SQL, so one agreement's rows cannot be
served for another's (tests/audit_ui/test_timeline.py reads two agreements
in turn). The converters Django would apply to the values are applied too."""

import weakref

from django.db import connections

# Stands for the agreement's id while a query is compiled: within the range of
# every id column, so that no lookup is optimised away, and unlike any real id here.
STAND_IN = 2_087_654_321


def stand_in_slots(params):
    """Where the stand-in id is among a compiled query's parameters."""
    return tuple(i for i, p in enumerate(params) if type(p) is not bool and isinstance(p, int) and p == STAND_IN)


def with_id(params, slots, value):
    """``params`` with ``value`` in the stand-in's places (as the type Django chose, e.g. psycopg's Int8)."""
    params = list(params)
    for slot in slots:
        params[slot] = type(params[slot])(value)
    return params


# Per connection object: their converters are bound to it.
_COMPILED = weakref.WeakKeyDictionary()


def prepared_rows(key, make, the_id, using="default"):
    """The rows (tuples) of the values_list queryset ``make(id)`` for ``the_id``,
    compiled once per connection under ``key``."""
    connection = connections[using]
    compiled = _COMPILED.setdefault(connection, {})
    if key not in compiled:
        compiler = make(STAND_IN).query.get_compiler(connection=connection)
        sql, params = compiler.as_sql()
        slots = stand_in_slots(params)  # none for a query that does not depend on the agreement
        converters = compiler.get_converters([s[0] for s in compiler.select[: compiler.col_count]])
        compiled[key] = (compiler, sql, tuple(params), slots, converters)
    compiler, sql, template, slots, converters = compiled[key]
    with connection.cursor() as cursor:
        cursor.execute(sql, with_id(template, slots, the_id))
        rows = cursor.fetchall()
    return list(compiler.apply_converters(rows, converters)) if converters else rows
