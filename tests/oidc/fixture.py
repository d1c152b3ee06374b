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
from dataclasses import dataclass
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

    def app_config(self) -> dict:
        return {
            "VZAM_ISSUER": self.issuer,
            "VZAM_CLIENT_ID": self.client_id,
            "VZAM_CLIENT_SECRET": self.client_secret,
            "VZAM_MFA_ACR_VALUES": [MFA_ACR],
        }

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


@pytest.fixture(scope="session")
def oidc_provider(tmp_path_factory):
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (ROOT / "node_modules" / "oidc-provider").is_dir():
        _unavailable("node_modules/oidc-provider is missing")
    port = _free_port()
    key = RSAKey.generate_key(
        2048, {"kid": secrets.token_hex(4), "use": "sig", "alg": "RS256"}
    )
    live = f"http://127.0.0.1:{port}"
    client = {
        "client_id": "myhezo-test",
        "client_secret": secrets.token_urlsafe(32),
        "redirect_uris": [f"{live}/vzam/callback", "http://localhost/vzam/callback"],
        "post_logout_redirect_uris": [f"{live}/", "http://localhost/"],
    }
    folder = tmp_path_factory.mktemp("oidc")
    config = folder / "config.json"
    config.write_text(
        json.dumps({"client": client, "jwk": key.as_dict(private=True), "users": USERS})
    )
    log = (folder / "provider.log").open("w")
    process = subprocess.Popen(
        [node, str(SCRIPT), str(config)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=log,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as selector:
            selector.register(process.stdout, selectors.EVENT_READ)
            line = process.stdout.readline() if selector.select(START_SECONDS) else ""
        if not line:
            process.kill()
            process.wait()
            log.close()
            _unavailable(
                "did not start: " + (folder / "provider.log").read_text()[-2000:]
            )
        issuer = json.loads(line)["issuer"]
        yield TestProvider(
            issuer, client["client_id"], client["client_secret"], key, port
        )
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        process.stdout.close()
        log.close()
