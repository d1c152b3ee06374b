"""A throw-away Dovecot IMAP server (Debian's ``dovecot-imapd``) for tests and benches.

Follows ``../shared/recipes/README.md``: the recipe's configuration in a fresh
directory, a free loopback port, every user signs in with ``secret``. Each
instance has its own directory (sockets left by a killed one would stop the
next start), so pytest-xdist workers each run their own.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import imap_tools

PASSWORD = "secret"

CONFIG = """\
protocols = imap
listen = 127.0.0.1
base_dir = @DIR@/run
state_dir = @DIR@/run
log_path = @DIR@/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:@DIR@/mail/%u
default_internal_user = dovecot
default_login_user = dovenull
default_internal_group = dovecot
mail_uid = dovecot
mail_gid = dovecot
first_valid_uid = 1
passdb {
  driver = static
  args = password=secret
}
userdb {
  driver = static
  args = uid=dovecot gid=dovecot home=@DIR@/mail/%u
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = @PORT@
  }
  inet_listener imaps {
    port = 0
  }
  chroot =
}
service anvil {
  chroot =
}
service auth {
  user = root
}
"""


class DovecotMissing(RuntimeError):
    pass


def dovecot_binary() -> str | None:
    return shutil.which("dovecot") or (
        "/usr/sbin/dovecot" if os.access("/usr/sbin/dovecot", os.X_OK) else None
    )


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Dovecot:
    """One running Dovecot; ``mailbox(user)`` is an imap-tools connection."""

    host = "127.0.0.1"

    def __init__(self):
        binary = dovecot_binary()
        if binary is None:
            raise DovecotMissing(
                "dovecot is not installed (Debian package dovecot-imapd; "
                "scripts/setup test installs it)"
            )
        self.binary = binary
        # Not under pytest's 0700 base directory: Dovecot's mail processes run
        # as the dovecot user and must reach the Maildirs.
        self.dir = Path(tempfile.mkdtemp(prefix="hezo-dovecot-"))
        self.dir.chmod(0o755)
        self.port = 0

    def start(self, attempts: int = 5) -> Dovecot:
        for _ in range(attempts):
            self.port = free_port()
            (self.dir / "run").mkdir(exist_ok=True)
            mail = self.dir / "mail"
            mail.mkdir(exist_ok=True)
            shutil.chown(mail, "dovecot", "dovecot")
            conf = self.dir / "dovecot.conf"
            conf.write_text(
                CONFIG.replace("@DIR@", str(self.dir)).replace("@PORT@", str(self.port))
            )
            # Not captured through pipes: the daemon keeps them open.
            errors = self.dir / "start.err"
            with open(errors, "wb") as err:
                result = subprocess.run(
                    [self.binary, "-c", str(conf)],
                    stdin=subprocess.DEVNULL,
                    stdout=subprocess.DEVNULL,
                    stderr=err,
                    timeout=30,
                )
            if result.returncode == 0 and self._wait_listening():
                return self
            self.stop()
            shutil.rmtree(self.dir / "run", ignore_errors=True)
        log = self.dir / "dovecot.log"
        raise RuntimeError(
            "dovecot did not start: "
            + errors.read_text()
            + (log.read_text() if log.exists() else "")
        )

    def _wait_listening(self, timeout: float = 10) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with socket.create_connection((self.host, self.port), timeout=1) as s:
                    if s.recv(100).startswith(b"* OK"):
                        return True
            except OSError:
                time.sleep(0.05)
        return False

    def stop(self) -> None:
        pid_file = self.dir / "run" / "master.pid"
        try:
            pid = int(pid_file.read_text().strip())
        except (OSError, ValueError):
            return
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.05)

    def close(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)

    def mailbox(self, user: str) -> imap_tools.MailBoxUnencrypted:
        return imap_tools.MailBoxUnencrypted(self.host, self.port).login(user, PASSWORD)

    def append(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        with self.mailbox(user) as box:
            box.folder.set(folder)
            box.append(raw, folder)

    def uids(self, user: str, folder: str = "INBOX") -> list[str]:
        with self.mailbox(user) as box:
            if not box.folder.exists(folder):
                return []
            box.folder.set(folder)
            return box.uids()
