"""Anonymous pages set no cookie and may be cached where that is safe (issue 21):
the landing page by a proxy for a few minutes, versioned static files for a
year; a page with a form still sets the session cookie its CSRF token needs,
and every other answer stays ``no-store``. GETs skip the rate limiter, POSTs
(and V-ZAM's limited GETs) do not.
"""

import re

import pytest

from hezo import first_visits, settings
from hezo.models import SettingsVersion, SiteSetting

from .factories import PASSWORD, login, make_user


def get(client, path):
    """A GET whose body (an open file for a static one) is read and closed."""
    response = client.get(path)
    response.get_data()
    response.close()
    return response


def static_urls(page: str) -> list[str]:
    return re.findall(r'(?:href|src)="(/static/[^"]+)"', page)


@pytest.mark.parametrize(
    "path", ["/pl/", "/en/", "/pl/no-such-page", "/static/css/app.css"]
)
def test_an_anonymous_get_sets_no_cookie(client, path):
    response = get(client, path)
    assert response.status_code in (200, 404)
    assert "Set-Cookie" not in response.headers


def test_the_versioned_static_files_of_the_landing_page_set_no_cookie(client):
    page = client.get("/pl/").get_data(as_text=True)
    urls = static_urls(page)
    assert len(urls) >= 5
    for url in urls:
        response = get(client, url)
        assert response.status_code == 200, url
        assert "Set-Cookie" not in response.headers, url


def test_the_landing_page_is_cacheable_by_a_proxy_without_a_session(client):
    response = client.get("/pl/")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert "Cookie" in response.vary  # a cookie-less copy for cookie-less visitors


def test_the_landing_page_of_a_signed_in_user_is_not_stored(client, dbconn):
    login(client, make_user())
    response = client.get("/pl/")
    assert response.headers["Cache-Control"] == "no-store"
    assert "Nowak" in response.get_data(as_text=True)


def test_error_pages_and_the_root_redirect_are_not_stored(client):
    assert client.get("/pl/no-such-page").headers["Cache-Control"] == "no-store"
    assert client.get("/").headers["Cache-Control"] == "no-store"


def test_static_urls_carry_the_content_version_and_are_immutable(app, client):
    page = client.get("/pl/").get_data(as_text=True)
    url = next(u for u in static_urls(page) if u.startswith("/static/css/app.css"))
    version = re.fullmatch(r"/static/css/app\.css\?v=([0-9a-f]{12})", url).group(1)
    cached = get(client, url)
    assert cached.headers["Cache-Control"] == ("public, max-age=31536000, immutable")
    # Another version (an old page) or none: revalidated, never kept a year.
    for other in ("/static/css/app.css?v=000000000000", "/static/css/app.css"):
        response = get(client, other)
        assert response.status_code == 200
        assert "immutable" not in response.headers.get("Cache-Control", "")
    assert version != "000000000000"


def test_a_changed_static_file_gets_a_new_url(app, client, tmp_path):
    folder = tmp_path / "static"
    (folder / "css").mkdir(parents=True)
    (folder / "css" / "app.css").write_text("a{}")
    app.static_folder = str(folder)
    with app.test_request_context("/pl/"):
        from flask import url_for

        first = url_for("static", filename="css/app.css")
        (folder / "css" / "app.css").write_text("b{}")
        second = url_for("static", filename="css/app.css")
    assert first != second


# -- the forms keep their CSRF token -----------------------------------------------


CSRF_ON = pytest.mark.parametrize(
    "config_overrides", [{"WTF_CSRF_ENABLED": True}], ids=["csrf"]
)


@CSRF_ON
def test_the_login_page_sets_the_cookie_its_token_needs(client):
    response = client.get("/pl/login")
    assert "Set-Cookie" in response.headers
    page = response.get_data(as_text=True)
    assert 'name="csrf_token"' in page
    assert 'hx-headers=\'{"X-CSRFToken": "' in page


@CSRF_ON
def test_the_login_form_refuses_a_post_without_a_valid_token(client, dbconn):
    user = make_user()
    client.get("/pl/login")
    credentials = {"email": user.email, "password": PASSWORD}
    assert client.post("/pl/login", data=credentials).status_code == 400
    forged = credentials | {"csrf_token": "forged"}
    assert client.post("/pl/login", data=forged).status_code == 400
    # A first-visit POST (no cookie, so no session token) is refused too.
    fresh = client.application.test_client()
    assert fresh.post("/pl/login", data=forged).status_code == 400


@CSRF_ON
def test_an_anonymous_page_without_a_form_carries_no_token(client):
    page = client.get("/pl/").get_data(as_text=True)
    assert "X-CSRFToken" not in page
    assert "csrf_token" not in page


# -- the rate limiter counts POSTs only ----------------------------------------------


@pytest.mark.parametrize(
    "config_overrides",
    [{"RATELIMIT_ENABLED": True, "LOGIN_RATE_LIMIT": "3/minute"}],
    ids=["rate-limited"],
)
def test_gets_of_the_login_page_are_not_counted_but_posts_are(client, dbconn):
    user = make_user()
    for _ in range(6):
        response = client.get("/pl/login")
        assert response.status_code == 200
        assert "X-RateLimit-Limit" not in response.headers
    wrong = {"email": user.email, "password": "wrong wrong wrong"}
    codes = [client.post("/pl/login", data=wrong).status_code for _ in range(4)]
    assert codes[-1] == 429


@pytest.fixture
def vzam_limited():
    """Marker fixture: the test below overrides ``config_overrides``."""


@pytest.fixture
def config_overrides(request):
    """V-ZAM configured with a small limit for the test that asks for it."""
    if "vzam_limited" not in request.fixturenames:
        return getattr(request, "param", {})
    provider = request.getfixturevalue("oidc_provider")
    return provider.app_config() | {
        "RATELIMIT_ENABLED": True,
        "LOGIN_RATE_LIMIT": "3/minute",
    }


def test_the_v_zam_sign_in_start_still_counts_its_gets(app, vzam_limited):
    client = app.test_client()
    codes = [client.get("/en/login/vzam").status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]


# -- first visits answered again without Flask (hezo.first_visits) -------------------


def first_visit(app, path="/pl/login"):
    """A GET as a new visitor makes it: its own client, no cookie."""
    client = app.test_client()
    return client, client.get(path)


def form_token(response) -> str:
    page = response.get_data(as_text=True)
    return re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page).group(1)


def headers_but_cookie(response) -> dict:
    return {k: v for k, v in response.headers.items() if k != "Set-Cookie"}


@CSRF_ON
def test_each_first_visit_gets_its_own_cookie_and_token_that_sign_in(app, dbconn):
    users = [make_user(), make_user()]
    visits = [first_visit(app) for _ in range(3)]
    assert app.extensions["hezo_page_parts"][first_visits.STORE]  # kept after one
    first, second, third = (response for _client, response in visits)
    cookies = {r.headers["Set-Cookie"].split(";")[0] for _c, r in visits}
    tokens = {form_token(r) for _c, r in visits}
    assert len(cookies) == 3 and len(tokens) == 3
    # The kept answer is the app's: the same headers and page but the token.
    assert headers_but_cookie(second) == headers_but_cookie(first)
    assert (
        second.headers["Set-Cookie"].split(";", 1)[1]
        == (first.headers["Set-Cookie"].split(";", 1)[1])
    )
    page = second.get_data(as_text=True)
    assert page.replace(form_token(second), "") == first.get_data(as_text=True).replace(
        form_token(first), ""
    )
    assert page.count(form_token(second)) == 2  # the form and htmx's header
    # Each token signs its own visitor in, and not another one.
    (_c1, _r1), (client2, r2), (client3, r3) = visits
    credentials = {"email": users[0].email, "password": PASSWORD}
    foreign = credentials | {"csrf_token": form_token(r2)}
    assert client3.post("/pl/login", data=foreign).status_code == 400
    own = credentials | {"csrf_token": form_token(r2)}
    assert client2.post("/pl/login", data=own).status_code == 303
    own = {"email": users[1].email, "password": PASSWORD, "csrf_token": form_token(r3)}
    assert client3.post("/pl/login", data=own).status_code == 303


def test_a_first_visit_of_the_landing_page_gets_no_cookie_again(app):
    _client, first = first_visit(app, "/pl/")
    _client, second = first_visit(app, "/pl/")
    assert app.extensions["hezo_page_parts"][first_visits.STORE]
    assert "Set-Cookie" not in second.headers
    assert second.headers["Cache-Control"] == "public, max-age=300"
    assert dict(second.headers) == dict(first.headers)
    assert second.get_data() == first.get_data()


def test_a_settings_change_by_another_process_reaches_first_visits(
    app, dbconn, monkeypatch
):
    first_visit(app, "/pl/")
    assert "+48 12 25 25 600" in first_visit(app, "/pl/")[1].get_data(as_text=True)
    # Another process changes the help line: its version is what is compared.
    with app.app_context():
        SiteSetting.create(name="HELPLINE_PHONE", value="+48 12 25 25 699")
        SettingsVersion.insert(id=1, number=99).on_conflict(
            conflict_target=[SettingsVersion.id], update={SettingsVersion.number: 99}
        ).execute()
    later = settings.clock() + app.config.get("SETTINGS_CHECK_SECONDS", 30)
    monkeypatch.setattr(settings, "clock", lambda: later)
    page = first_visit(app, "/pl/")[1].get_data(as_text=True)
    assert "+48 12 25 25 699" in page and "+48 12 25 25 600" not in page


@CSRF_ON
@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/pl/login?next=/pl/cases/", {}),
        ("/pl/login", {"HX-Request": "true"}),
        ("/pl/login", {"Cookie": "other=1"}),
    ],
    ids=["query", "htmx", "cookie"],
)
def test_visits_that_are_not_first_ones_go_to_the_app(app, path, headers):
    first_visit(app)
    first_visit(app)
    response = app.test_client().get(path, headers=headers)
    assert response.status_code == 200
    if "next" in path:
        assert "/pl/login?next=/pl/cases/" in response.get_data(as_text=True)
    assert len(app.extensions["hezo_page_parts"][first_visits.STORE]) == 1
