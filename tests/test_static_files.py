"""Static CSS, JavaScript and SVG go gzip-compressed to browsers that accept
it (Lighthouse: Bootstrap's CSS blocks the first paint), plain to others, and
a revalidation with either ETag gets a 304."""

import gzip
from pathlib import Path

import pytest

import hezo

STATIC = Path(hezo.__file__).parent / "static"


def fetch(client, path, **headers):
    """Status, headers and body; the answer closed (the static view's file)."""
    with client.get(path, headers=headers) as answer:
        return answer.status_code, answer.headers, answer.get_data()


@pytest.mark.parametrize(
    "path", ["vendor/bootstrap.min.css", "js/app.js", "img/logo.svg"]
)
def test_static_text_is_compressed_for_browsers_that_accept_gzip(client, path):
    plain = (STATIC / path).read_bytes()
    url = f"/static/{path}"
    status, headers, data = fetch(client, url, **{"Accept-Encoding": "gzip, br"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert "Accept-Encoding" in headers["Vary"]
    assert gzip.decompress(data) == plain
    assert int(headers["Content-Length"]) == len(data)
    if path.endswith(".css"):
        assert len(data) < len(plain) / 4

    again = fetch(
        client, url, **{"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]}
    )
    assert again[0] == 304
    assert again[1]["ETag"] == headers["ETag"]


def test_static_text_stays_plain_without_gzip(client):
    url = "/static/css/app.css"
    status, headers, data = fetch(client, url, **{"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in headers
    assert data == (STATIC / "css/app.css").read_bytes()
    assert "Accept-Encoding" in headers["Vary"]
    assert fetch(client, url, **{"If-None-Match": headers["ETag"]})[0] == 304
    # The compressed answer is another representation: another ETag.
    zipped = fetch(client, url, **{"Accept-Encoding": "gzip"})
    assert zipped[1]["ETag"] != headers["ETag"]


def test_missing_static_file_is_still_404(client):
    assert (
        fetch(client, "/static/css/nope.css", **{"Accept-Encoding": "gzip"})[0] == 404
    )
