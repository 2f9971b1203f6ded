"""A real SMTP server (aiosmtpd) as a process of its own, for the tests that
stop, slow down and start the mail server under a running worker, and for
the e-mail benchmark.

    python tests/reliability/smtp_sink.py PORT LOG [--delay-rcpt S] [--delay-data S] [--refuse ADDRESS]… [--no-fsync]

Every accepted message is appended to LOG as a JSON line (its Message-ID,
recipients and subject) once the server has taken it, before it answers
250; ``--delay-rcpt`` pauses before answering each RCPT (logging an
``rcpt`` line first), ``--delay-data`` before taking a message (a slow
server), ``--refuse`` answers 550 to that recipient. Prints "ready" when it
listens."""

import argparse
import asyncio
import contextlib
import json
import os
import signal
import sys
import threading
import time
from email import message_from_bytes

from aiosmtpd.controller import Controller


class Sink:
    def __init__(self, log_path, delay_rcpt, delay_data, refuse, fsync=True):
        self.log_path = log_path
        self.fsync = fsync
        self.delay_rcpt = delay_rcpt
        self.delay_data = delay_data
        self.refuse = {address.lower() for address in refuse}
        self.lock = threading.Lock()

    def log(self, **entry):
        entry["at"] = time.time()
        with self.lock, open(self.log_path, "a", encoding="utf-8") as log:
            log.write(json.dumps(entry) + "\n")
            log.flush()
            if self.fsync:
                os.fsync(log.fileno())

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address.lower() in self.refuse:
            return f"550 5.1.1 <{address}>: Recipient address rejected: User unknown"
        if self.delay_rcpt:
            self.log(event="rcpt", to=address)
            await asyncio.sleep(self.delay_rcpt)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if self.delay_data:
            await asyncio.sleep(self.delay_data)
        message = message_from_bytes(envelope.content)
        self.log(
            event="data",
            message_id=message.get("Message-ID", ""),
            to=list(envelope.rcpt_tos),
            subject=str(message.get("Subject", "")),
        )
        return "250 Message accepted for delivery"


def main(argv=None):
    parser = argparse.ArgumentParser()
    parser.add_argument("port", type=int)
    parser.add_argument("log")
    parser.add_argument("--delay-rcpt", type=float, default=0)
    parser.add_argument("--delay-data", type=float, default=0)
    parser.add_argument("--refuse", action="append", default=[])
    parser.add_argument("--no-fsync", action="store_true", help="do not sync the log to disk (the benchmark)")
    options = parser.parse_args(argv)
    sink = Sink(options.log, options.delay_rcpt, options.delay_data, options.refuse, fsync=not options.no_fsync)
    controller = Controller(sink, hostname="127.0.0.1", port=options.port, ready_timeout=10)
    controller.start()
    stopped = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopped.set())
    print("ready", flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        stopped.wait()
    controller.stop()
    sys.exit(0)


if __name__ == "__main__":
    main()
