"""The portal with demo data, as ``scripts/run`` serves it (gunicorn, one
worker, threads), but in a temporary instance directory on a free loopback
port: never the checkout's ``instance/`` or its database. Used by
``bench/screenshots.py`` and ``bench/lighthouse.py``.

The demo data (``hezo demo`` plus what the page states need, see
``tests/browser/demo_world.py``) is written by this process, which keeps the
app to read the confirmation links the portal mails (the outbox stays in the
database: no outbox worker runs).
"""

import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from common import REPO_ROOT, stop_process_group  # noqa: E402

HOST = "127.0.0.1"
COOKIE = "hezo_session"
VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def demo_env(instance: Path, base: str) -> dict:
    """The settings of ``scripts/run`` for a throwaway instance. Rate limits
    are off: a screenshot run sends more forms a minute than a person."""
    return {
        "HEZO_INSTANCE_PATH": str(instance),
        "HEZO_SECRET_KEY": secrets.token_hex(32),
        "HEZO_TOTP_ENCRYPTION_KEY": secrets.token_hex(32),
        "HEZO_SESSION_COOKIE_SECURE": "false",
        "HEZO_SESSION_COOKIE_NAME": COOKIE,
        "HEZO_TRUSTED_HOSTS": f'["{HOST}", "localhost"]',
        "HEZO_PUBLIC_URL": base,
        "HEZO_RATELIMIT_ENABLED": "false",
    }


def wait_ready(base: str, proc: subprocess.Popen, log: Path, seconds=60.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=5) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")


@contextmanager
def demo_portal() -> Iterator[tuple[str, dict]]:
    """(base URL, the page states' world) while the portal runs."""
    instance = Path(tempfile.mkdtemp(prefix="hezo-demo-"))
    port = free_port()
    base = f"http://{HOST}:{port}"
    env = demo_env(instance, base)
    os.environ.update(env)

    from hezo import create_app
    from tests.browser.demo_world import seed_demo_world

    app = create_app()
    with app.app_context():
        world = seed_demo_world(migrate=True)
    confirm = world["confirm"]

    def confirm_in_app():
        with app.app_context():
            return confirm()

    world["confirm"] = confirm_in_app
    log = instance / "gunicorn.log"
    proc = subprocess.Popen(
        [
            str(VENV_BIN / "gunicorn"),
            "--config",
            "gunicorn.conf.py",
            "--bind",
            f"{HOST}:{port}",
            "--workers",
            "1",
            "--threads",
            "8",
            "app:app",
        ],
        cwd=REPO_ROOT,
        env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, ended below
    )
    try:
        wait_ready(base, proc, log)
        yield base, world
    finally:
        stop_process_group(proc)
        shutil.rmtree(instance, ignore_errors=True)
