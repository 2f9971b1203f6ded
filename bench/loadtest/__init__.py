"""The load generator of the benchmark: ``python manage.py generate_load_data``.

Sweden's 21 regions and 290 municipalities, eight plan periods and 100,000
agreements in every stage, with their viewflow processes, tasks, due dates
and complete, hash-chained history, in a few minutes. A tool beside the
benchmark, not part of the product: its Django app (``bench.loadtest``, only
the command) is installed by the local, test and benchmark settings, never by
production's.

Nothing here knows what a step writes. Each scenario (scenarios.py: what the
people do, and when) runs once through the real services and the real
process; every row it wrote is captured and cloned in bulk with COPY, mapped
to other municipalities, people, periods, ids and times (templates.py), as
Zulip's development data calls the domain's own functions. A change to a
service or to the flow changes the load data with no edit here.

- reference.py: regions, municipalities, plan periods, people, through the services;
- scenarios.py: the Driver that takes steps through the services, and the stories;
- templates.py: recording scenarios as templates, and cloning them;
- generate.py: which agreements, where and when (the plan), and the whole load;
- loading.py: COPY of the clones (psycopg's ``copy.write_row``), in parallel.
"""
