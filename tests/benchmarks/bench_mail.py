"""Benchmark: the mailbox poller — --messages mails in an IMAP folder become tickets.

A private Dovecot on 127.0.0.1 (tests/dovecot.py; Debian's dovecot-imapd, run as root) holds
--messages fault reports. `faultflow mail fetch`'s pass (read each message, open its ticket,
move it to faultflow/done) is timed against the raw floor in the same run: plain `imaplib`
fetching the same messages (RFC822) from a copy of the folder, doing nothing with them.

    python tests/benchmarks/bench_mail.py [--messages 1000]
"""

from __future__ import annotations

import argparse
import imaplib
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

from common import machine

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from dovecot import PASSWORD, USER, dovecot, usable


def mail(i: int) -> bytes:
    m = EmailMessage()
    m["From"] = f"单位{i % 12} <unit{i % 12}@czj.example>"
    m["Subject"] = f"【故障】{i} 号机房交换机端口异常"
    m["Message-ID"] = f"<bench-{i}@czj.example>"
    m.set_content("端口频繁闪断，影响部分科室。\n" * 5)
    return m.as_bytes()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    args = parser.parse_args()
    if not usable():
        print("bench_mail needs Debian's dovecot-imapd and root: skipped")
        return 0
    from faultflow import Engine
    from faultflow.run.mailbox import Mailbox, fetch
    from imap_tools import MailBoxUnencrypted

    with dovecot() as port:
        with MailBoxUnencrypted("127.0.0.1", port).login(USER, PASSWORD) as mb:
            mb.folder.create("copy")
            for i in range(args.messages):
                raw = mail(i)
                mb.append(raw, "INBOX")
                mb.append(raw, "copy")
        # the floor: imaplib fetching every message of the copy, whole
        began = time.perf_counter()
        imap = imaplib.IMAP4("127.0.0.1", port)
        imap.login(USER, PASSWORD)
        imap.select("copy", readonly=True)
        _, found = imap.uid("search", None, "ALL")
        fetched = 0
        for uid in found[0].split():
            _, data = imap.uid("fetch", uid, "(RFC822)")
            fetched += 1 if data and data[0] else 0
        imap.logout()
        raw_s = time.perf_counter() - began
        with tempfile.TemporaryDirectory() as folder:
            engine = Engine.open(db=Path(folder) / "mail.db")
            box = Mailbox("127.0.0.1", port, "none", USER, PASSWORD)
            began = time.perf_counter()
            result = fetch(lambda raw: engine.intake_all("email", raw, "mailbox"), box)
            took = time.perf_counter() - began
            tickets = len(engine.list())
            engine.close()
    rate, raw_rate = result.read / took, fetched / raw_s
    print(f"mail benchmark: {args.messages:,} messages; {machine()}")
    print(
        f"  faultflow mail fetch: {tickets:,} tickets from {result.read:,} messages in "
        f"{took:.1f} s ({rate:,.0f}/s); raw imaplib fetch {fetched:,} in {raw_s:.1f} s "
        f"({raw_rate:,.0f}/s); ratio engine/raw {rate / raw_rate:.3f}"
    )
    return 0 if tickets == args.messages else 1


if __name__ == "__main__":
    sys.exit(main())
