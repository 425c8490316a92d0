"""A private Dovecot IMAP server on 127.0.0.1 for the mailbox tests and benchmark: its own
config, users file and Maildirs in a temporary folder, started and stopped by the caller
(Debian's dovecot-imapd; it must run as root, and drops to its own user)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BINARY = shutil.which("dovecot") or ("/usr/sbin/dovecot" if Path("/usr/sbin/dovecot").exists()
                                     else None)  # fmt: skip
USER, PASSWORD = "faults", "s3cret"


def usable() -> bool:
    return BINARY is not None and os.geteuid() == 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def dovecot(system_users: tuple[str, ...] = ()) -> Iterator[int]:
    """A running private Dovecot; yields its IMAP port (plain IMAP, password s3cret). Its own
    user ``faults`` with a Maildir in a temporary folder — or, with ``system_users``, those
    local accounts and the Maildirs in their homes (where Postfix delivers their mail)."""
    import pwd

    assert BINARY is not None
    owner = pwd.getpwnam("dovecot")
    folder = Path(tempfile.mkdtemp(prefix="ffdv"))  # short: Dovecot's sockets live in it
    folder.chmod(0o755)  # its auth process (its own user) reads the users file here
    (folder / "run").mkdir()
    home = folder / "home"
    home.mkdir()
    os.chown(home, owner.pw_uid, owner.pw_gid)
    users = system_users or (USER,)
    (folder / "users").write_text("".join(f"{u}:{{PLAIN}}{PASSWORD}\n" for u in users))
    first_uid = min([owner.pw_uid, *(pwd.getpwnam(u).pw_uid for u in system_users)])
    userdb = (
        "driver = passwd"
        if system_users
        else f"driver = static\n  args = uid={owner.pw_uid} gid={owner.pw_gid} home={home}/%u"
    )
    port = _free_port()
    config = folder / "dovecot.conf"
    config.write_text(
        f"""
base_dir = {folder}/run
log_path = {folder}/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = {first_uid}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/users
}}
userdb {{
  {userdb}
}}
mail_location = maildir:~/Maildir
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""
    )
    subprocess.run([BINARY, "-c", str(config)], check=True, timeout=30)
    try:
        yield port
    finally:
        subprocess.run([BINARY, "-c", str(config), "stop"], timeout=30, check=False)
        shutil.rmtree(folder, ignore_errors=True)
