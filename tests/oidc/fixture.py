"""Start the test OpenID provider once per test process (each xdist worker has
its own), stop it at the end. Its users carry partner NIPs in ``partner_nip``
(one in ``company_nip``, for the configurable claim name) and ``amr`` with or
without ``mfa``.

Without Node or ``node_modules/oidc-provider`` (``scripts/setup test`` installs
it) the tests that need it are skipped, except in CI (``CI=true``), where a
provider that does not start fails them.
"""

import json
import os
import secrets
import selectors
import shutil
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import pytest
import requests
from joserfc.jwk import RSAKey

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = Path(__file__).with_name("provider.mjs")
START_SECONDS = 20

PARTNER_NIP = "9876543204"  # a partner company the tests create
OTHER_PARTNER_NIP = "5554443334"
UNKNOWN_NIP = "1234563218"  # valid, but no company of the register has it
MFA_ACR = "urn:vzam:acr:mfa"


def _user(sub_name, nip, amr, claim="partner_nip", **extra):
    first, last = sub_name.split(".")[0].title(), "Testowa"
    claims = {
        "email": f"{sub_name}@partner.example.pl",
        "email_verified": True,
        "given_name": first,
        "family_name": last,
        "name": f"{first} {last}",
    }
    if nip is not None:
        claims[claim] = nip
    return {"claims": claims, "amr": amr, **extra}


USERS = {
    "anna.mfa": _user("anna.mfa", PARTNER_NIP, ["pwd", "mfa"]),
    "bartek.pwd": _user("bartek.pwd", PARTNER_NIP, ["pwd"]),
    "ewa.acr": _user("ewa.acr", PARTNER_NIP, ["pwd"], acr=MFA_ACR),
    "olek.other": _user("olek.other", OTHER_PARTNER_NIP, ["pwd", "otp"]),
    "celina.unknown": _user("celina.unknown", UNKNOWN_NIP, ["pwd", "mfa"]),
    "dawid.nonip": _user("dawid.nonip", None, ["pwd", "mfa"]),
    "filip.badnip": _user("filip.badnip", "1234567890", ["pwd", "mfa"]),
    "gosia.claim": _user("gosia.claim", PARTNER_NIP, ["hwk"], claim="company_nip"),
}


@dataclass
class TestProvider:
    issuer: str
    client_id: str
    client_secret: str
    key: RSAKey  # the provider's signing key: tests sign their own ID tokens
    redirect_port: int  # the live server that V-ZAM may redirect to
    process: "ProviderProcess" = field(repr=False, default=None)

    def app_config(self) -> dict:
        return {
            "VZAM_ISSUER": self.issuer,
            "VZAM_CLIENT_ID": self.client_id,
            "VZAM_CLIENT_SECRET": self.client_secret,
            "VZAM_MFA_ACR_VALUES": [MFA_ACR],
        }

    def restart(self, key: RSAKey) -> None:
        """Stop the provider and start it again at the same issuer URL,
        signing with ``key`` (and publishing only it)."""
        self.process.stop()
        self.process.key = self.key = key
        self.process.start(port=urlsplit(self.issuer).port)

    def sign_in(self, authorize_url: str, login: str) -> str:
        """Follow the portal's redirect at the provider as ``login`` (no
        browser): the path and query the provider sends back to the portal."""
        http = requests.Session()
        url, data = authorize_url, None
        for _ in range(12):
            if urlsplit(url).netloc != urlsplit(self.issuer).netloc:
                parts = urlsplit(url)
                return f"{parts.path}?{parts.query}"
            if "/interaction/" in url and data is None and _is_login_page(http, url):
                data = {"login": login}
                response = http.post(url, data=data, allow_redirects=False, timeout=10)
            else:
                response = http.get(url, allow_redirects=False, timeout=10)
            assert response.status_code in (302, 303), response.text[:500]
            url = urljoin(url, response.headers["Location"])
        raise AssertionError("the provider never sent the browser back")


def _is_login_page(http, url) -> bool:
    return 'name="login"' in http.get(url, timeout=10).text


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"test OpenID provider: {reason}", pytrace=False)
    pytest.skip(f"test OpenID provider: {reason} (run scripts/setup test)")


def signing_key() -> RSAKey:
    """A new RSA key the provider may sign with (a fresh ``kid``)."""
    return RSAKey.generate_key(
        2048, {"kid": secrets.token_hex(4), "use": "sig", "alg": "RS256"}
    )


class ProviderProcess:
    """One ``provider.mjs`` process: ``start`` it (again), ``stop`` it.

    ``options``: ``clockOffsetSeconds`` and ``idTokenTtl`` of provider.mjs.
    """

    def __init__(self, folder: Path, client: dict, key: RSAKey, **options):
        self.folder, self.client, self.key, self.options = folder, client, key, options
        self.process = None

    def start(self, port: int = 0) -> str:
        """Start it (on ``port``, or a free one); returns its issuer."""
        node = shutil.which("node")
        if node is None:
            _unavailable("node is not installed")
        if not (ROOT / "node_modules" / "oidc-provider").is_dir():
            _unavailable("node_modules/oidc-provider is missing")
        config = self.folder / "config.json"
        config.write_text(
            json.dumps(
                {
                    "client": self.client,
                    "jwk": self.key.as_dict(private=True),
                    "users": USERS,
                    "port": port,
                }
                | self.options
            )
        )
        log_path = self.folder / "provider.log"
        self.log = log_path.open("a")
        self.process = subprocess.Popen(
            [node, str(SCRIPT), str(config)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=self.log,
            text=True,
        )
        with selectors.DefaultSelector() as selector:
            selector.register(self.process.stdout, selectors.EVENT_READ)
            ready = selector.select(START_SECONDS)
            line = self.process.stdout.readline() if ready else ""
        if not line:
            self.stop()
            _unavailable("did not start: " + log_path.read_text()[-2000:])
        return json.loads(line)["issuer"]

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        self.log.close()


@contextmanager
def running_provider(folder: Path, **options) -> Iterator[TestProvider]:
    """A provider with the test client (whose redirect URI is a free loopback
    port, for the live server) and users, stopped at the end."""
    port = _free_port()
    key = signing_key()
    live = f"http://127.0.0.1:{port}"
    client = {
        "client_id": "myhezo-test",
        "client_secret": secrets.token_urlsafe(32),
        "redirect_uris": [f"{live}/vzam/callback", "http://localhost/vzam/callback"],
        "post_logout_redirect_uris": [f"{live}/", "http://localhost/"],
    }
    process = ProviderProcess(folder, client, key, **options)
    try:
        issuer = process.start()
        yield TestProvider(
            issuer, client["client_id"], client["client_secret"], key, port, process
        )
    finally:
        process.stop()


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    with running_provider(tmp_path_factory.mktemp("oidc")) as provider:
        yield provider
