"""The agreement PDF, measured: time and peak memory to render the decision
material of one agreement with 8 collaboration areas, and of the county's 15
agreements one after another (issue #12; README › Performance › Documents).

    .venv/bin/python bench/documents.py [--areas 8] [--agreements 15] [--repeat 3]

Renders with ``cases.agreements.documents.render_revision_pdf``, the function
the freeze at political approval calls, on revisions built in memory (no
database: the storing is measured by bench/storage.py). The areas' texts are
of the length of the demo's longest (goal ~500, commitments ~600 characters).
The signed agreement's production (#12 item 4) is timed too: the verifikat
rendered, appended to the decided document and PAdES-signed with a throwaway
certificate (what the worker does, less the reading and storing).
Prints a table; writes nothing.
"""

import argparse
import datetime
import os
import resource
import sys
import time
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")

MUNICIPALITIES = [
    "Vansbro", "Malung-Sälen", "Gagnef", "Leksand", "Rättvik", "Orsa", "Älvdalen", "Smedjebacken",
    "Mora", "Falun", "Borlänge", "Säter", "Hedemora", "Avesta", "Ludvika",
]  # fmt: skip


def revision(municipality: str, number: int, areas: int):
    period = SimpleNamespace(name="2023–2026", starts_on=datetime.date(2023, 1, 1), ends_on=datetime.date(2026, 12, 31))
    agreement = SimpleNamespace(
        case_number=f"RD 2026/{number:04d}", municipality=SimpleNamespace(name=municipality), plan_period=period
    )
    content = [
        {
            "id": i,
            "title": f"Samverkansområde {i}: kulturskola, bibliotek och hållbara livsmiljöer i {municipality}",
            "goal": "Fler barn och unga i hela kommunen möter kultur varje vecka, på sitt eget språk. " * 6,
            "region_commitment": "Regionen samordnar nätverket, bidrar med kompetens och följer upp årligen. " * 8,
            "municipality_commitment": "Kommunen deltar med kulturchefen och avsätter tid för samverkan. " * 9,
            "contacts": "Anna Andersson, kulturchef, anna@example.se\nLars Ek, samordnare, lars.ek@example.se",
            "priorities": ["Hållbara livsmiljöer", "Kommunala kulturskolor"],
        }
        for i in range(1, areas + 1)
    ]
    return SimpleNamespace(
        agreement=agreement,
        round=1,
        title=f"Överenskommelse om kultursamverkan {municipality} 2023–2026",
        content=content,
        created_at=datetime.datetime(2026, 11, 1, 10, 0),
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--areas", type=int, default=8)
    parser.add_argument("--agreements", type=int, default=15)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    import django

    django.setup()
    from cases.agreements.documents import render_revision_pdf

    def render(rev):
        return render_revision_pdf(rev, region="Region Dalarna")[0]

    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start = time.perf_counter()
    first = render(revision("Falun", 1, args.areas))
    cold = time.perf_counter() - start

    times, cpu, sizes = [], [], []
    for _ in range(args.repeat):
        start, start_cpu = time.perf_counter(), time.process_time()
        pdf = render(revision("Falun", 1, args.areas))
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        sizes.append(len(pdf))
    tracemalloc.start()  # once, apart: tracing slows the render several times over
    render(revision("Falun", 1, args.areas))
    _current, python_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    start, start_cpu = time.perf_counter(), time.process_time()
    county = [render(revision(name, n, args.areas)) for n, name in enumerate(MUNICIPALITIES[: args.agreements], 1)]
    county_time = time.perf_counter() - start
    county_cpu = time.process_time() - start_cpu
    rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    import io

    from pikepdf import Pdf  # noqa: PLC0415 – dev dependency, the page count only

    pages = len(Pdf.open(io.BytesIO(first)).pages)
    print(f"areas per agreement            {args.areas}")
    print(f"pages per document             {pages}")
    print(f"bytes per document             {sizes[0]:,}")
    print(f"first render in the process    {cold * 1000:,.0f} ms (fonts and styles loaded)")
    print(f"render, warm (median of {args.repeat})     {sorted(times)[len(times) // 2] * 1000:,.0f} ms")
    print(f"  of which CPU time (median)   {sorted(cpu)[len(cpu) // 2] * 1000:,.0f} ms (this process's own)")
    print(f"Python peak memory per render  {python_peak / 2**20:,.1f} MiB (tracemalloc)")
    each = county_time / len(county) * 1000
    print(f"{len(county)} agreements one after another {county_time:,.1f} s ({each:,.0f} ms each)")
    print(f"  of which CPU time            {county_cpu:,.1f} s ({county_cpu / len(county) * 1000:,.0f} ms each)")
    print(f"process peak RSS               {rss_after / 1024:,.0f} MiB (before rendering {rss_before / 1024:,.0f} MiB)")
    signed_times, signed_cpu, signed_size = signed_agreement(first, repeat=args.repeat)
    print(f"signed agreement (median of {args.repeat})  {signed_times * 1000:,.0f} ms: verifikat + merge + PAdES seal")
    print(f"  of which CPU time (median)   {signed_cpu * 1000:,.0f} ms; {signed_size:,} bytes")
    print(f"load average                   {' '.join(f'{x:.1f}' for x in os.getloadavg())}")


def signed_agreement(decided: bytes, *, repeat: int):
    """Median wall and CPU time to produce the signed agreement from ``decided``."""
    from cases.agreements import pades
    from cases.agreements.documents import merge_pdfs, render_verifikat_pdf

    certificate, key = pades.make_demo_certificate(common_name="BENCH – ej giltig", organisation="Region Dalarna")
    credentials = pades.Credentials(certificate=certificate, private_key=key)
    rev = revision("Falun", 1, 1)
    agreement = SimpleNamespace(**vars(rev.agreement), title=rev.title)
    document = SimpleNamespace(sha256="ab" * 32, short_fingerprint="ABCD EF01 2345 6789", revision=rev)
    when = datetime.datetime(2026, 11, 20, 10, 0, tzinfo=datetime.UTC)
    signatures = [
        SimpleNamespace(
            signatory_name=name,
            signatory_title=title,
            organisation_id=1,
            organisation=SimpleNamespace(name=org),
            role=role,
            signed_at=when,
            signed_on=when.date(),
            auth_method="password",
            document_sha256="ab" * 32,
            get_party_display=lambda party=party: party,
        )
        for name, title, org, role, party in (
            ("Anna Samordnare", "Samordnare", "Region Dalarna", "coordinator", "Region"),
            ("Lars Falun", "Kulturchef", "Falun", "cultural_head", "Kommun"),
        )
    ]
    decisions = [
        SimpleNamespace(
            get_party_display=lambda p=p: p,
            body=body,
            paragraph="§ 12",
            meeting_date=when.date(),
            get_outcome_display=lambda: "Bifallen",
        )
        for p, body in (("Region", "Kultur- och bildningsnämnden"), ("Kommun", "Kommunstyrelsen"))
    ]
    times, cpu, size = [], [], 0
    for _ in range(repeat + 1):  # the first loads the verifikat's template and pyHanko: not counted
        start, start_cpu = time.perf_counter(), time.process_time()
        verifikat = render_verifikat_pdf(
            agreement=agreement, document=document, signatures=signatures, decisions=decisions, region="Region Dalarna"
        )
        signed = pades.sign_pdf(merge_pdfs(decided, verifikat), reason="bench", credentials=credentials)
        times.append(time.perf_counter() - start)
        cpu.append(time.process_time() - start_cpu)
        size = len(signed)
    times, cpu = sorted(times[1:]), sorted(cpu[1:])
    return times[len(times) // 2], cpu[len(cpu) // 2], size


if __name__ == "__main__":
    main()
