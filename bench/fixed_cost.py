"""CPU per request of the portal's light pages, in-process (the fixed cost).

    python bench/fixed_cost.py [--requests 400] [--profile PATH]

Builds the app with its production settings (CSRF on, rate limiter on, a
fresh SQLite database in a temporary folder, one enrolled customer), signs in
through the real forms, then for each page makes ``--batches`` batches of ``--requests``
GETs with the Flask test client and prints ``time.process_time()`` per request
(the lowest batch): CPU, not
wall time, so a busy machine changes the figure little. Anonymous pages are
requested without a cookie, as a first visit is; the signed-in page with the
session cookie. ``--profile PAGE`` prints cProfile's top functions for it.
"""

import argparse
import cProfile
import gc
import os
import pstats
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import pyotp  # noqa: E402

from hezo import create_app  # noqa: E402

PASSWORD = "korek płotek rower 42"
PAGES = {
    "login-pl": ("/pl/login", False),
    "login-en": ("/en/login", False),
    "landing-pl": ("/pl/", False),
    "404-pl": ("/pl/no-such-page", False),
    "account-pl": ("/pl/account", True),
}


def build(folder: Path):
    app = create_app(
        {
            "SECRET_KEY": "bench-secret-key",
            "TOTP_ENCRYPTION_KEY": "bench-totp-key",
            "DATABASE_URL": f"sqlite:///{folder / 'hezo.db'}",
            "UPLOAD_FOLDER": str(folder / "uploads"),
            "OUTBOX_FILE_FOLDER": str(folder / "mail"),
            "SESSION_COOKIE_SECURE": False,
            "SESSION_COOKIE_NAME": "hezo_session",
            "TRUSTED_HOSTS": ["localhost"],
            "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
            "LOGIN_RATE_LIMIT": "1000/minute",
        },
        instance_path=folder,
    )
    from hezo import crypto
    from hezo.accounts import passwords
    from hezo.migrations import migrate_database
    from hezo.models import Company, User

    with app.app_context():
        migrate_database()
        secret = pyotp.random_base32()
        User.create(
            email="bench@example.pl",
            first_name="Jan",
            last_name="Nowak",
            role="customer",
            company=Company.create(nip="5260181596", name="Firma"),
            language="pl",
            password_hash=passwords.hash_password(PASSWORD),
            totp_secret=crypto.encrypt_secret(secret),
        )
    return app, secret


def token(client, path) -> str:
    page = client.get(path).get_data(as_text=True)
    return re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)


def sign_in(app, secret):
    client = app.test_client()
    form = {"email": "bench@example.pl", "password": PASSWORD}
    form["csrf_token"] = token(client, "/pl/login")
    assert client.post("/pl/login", data=form).status_code == 303
    code = {"code": pyotp.TOTP(secret).now()}
    code["csrf_token"] = token(client, "/pl/login/code")
    assert client.post("/pl/login/code", data=code).status_code == 303
    return client


def run(app, signed, path, n, batches=1):
    """CPU ms per request: the lowest of ``batches`` batches of ``n`` (on a
    busy machine other processes only ever add to a batch's figure)."""
    for _ in range(20):  # warm-up (template compilation, caches)
        _get(app, signed, path)
    figures = []
    for _ in range(batches):
        start = time.process_time()
        for _ in range(n):
            _get(app, signed, path)
        figures.append((time.process_time() - start) / n * 1000)
    return min(figures)


def _get(app, signed, path):
    client = signed or app.test_client(use_cookies=False)
    response = client.get(path, headers={"Host": "localhost"})
    response.close()
    assert response.status_code in (200, 404), (path, response.status_code)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50, help="per batch")
    parser.add_argument("--batches", type=int, default=8)
    parser.add_argument("--profile", choices=sorted(PAGES))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        app, secret = build(Path(tmp))
        signed = sign_in(app, secret)
        gc.freeze()  # as app.py does in each gunicorn worker
        if args.profile:
            path, needs = PAGES[args.profile]
            client = signed if needs else None
            run(app, client, path, 20)
            profiler = cProfile.Profile()
            profiler.enable()
            run(app, client, path, args.requests)
            profiler.disable()
            order = os.environ.get("SORT", "cumulative")  # or tottime
            stats = pstats.Stats(profiler).sort_stats(order)
            stats.print_stats(45)
            return
        for name, (path, needs) in PAGES.items():
            ms = run(app, signed if needs else None, path, args.requests, args.batches)
            print(f"{name:12} {path:20} {ms:6.2f} ms CPU per request")


if __name__ == "__main__":
    main()
