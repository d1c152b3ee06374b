"""What the fixed cost per request saves must not change a page (issue 21): the
layout parts rendered once per language, the faster ``html_params``, the
session serializer made once per key."""

import pytest
from markupsafe import Markup

from hezo import create_app
from hezo.html_params import html_params, original_html_params

from .conftest import TEST_CONFIG
from .factories import login, make_user


@pytest.mark.parametrize(
    "attributes",
    [
        {"class_": "form-control", "id": "email", "name": "email"},
        {"value": 'say "hi" <b>&</b>', "placeholder": "a'b"},
        {"value": Markup('<i>kept</i> "quoted"'), "required": True},
        {"checked": True, "readonly": False, "data_hx_get": "/x?a=1&b=2"},
        {"aria_describedby": "a b", "hx-target": "#rows", "maxlength": 40},
        {"value": None, "size": 0, "title": "Zażółć gęślą jaźń"},
        {},
    ],
)
def test_html_params_writes_what_wtforms_writes(attributes):
    assert html_params(**attributes) == original_html_params(**attributes)
    assert isinstance(html_params(**attributes), Markup)


def test_a_rendered_field_is_escaped_as_before(app):
    from hezo.accounts.forms import LoginForm

    with app.test_request_context("/pl/login"):
        form = LoginForm(data={"email": '"><script>x</script>'})
        html = str(form.email(class_="form-control"))
    assert "<script>" not in html
    assert 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html


def menu(client, path) -> str:
    page = client.get(path).get_data(as_text=True)
    return page.split('<ul class="navbar-nav me-auto">', 1)[1].split("</ul>", 1)[0]


def test_the_menu_is_the_users_own_in_each_language_and_page(app, client, dbconn):
    anonymous = menu(client, "/pl/login")
    assert 'href="/pl/login" aria-current="page"' in anonymous
    assert "aria-current" not in menu(client, "/pl/")
    assert 'href="/en/login" aria-current="page"' in menu(client, "/en/login")
    login(client, make_user(role="engineer"))
    staff = menu(client, "/pl/account")
    assert "/pl/staff" in staff and "/pl/contracts" not in staff
    assert 'href="/pl/account" aria-current="page"' in staff
    customer = app.test_client()
    login(customer, make_user(role="customer"))
    own = menu(customer, "/en/account")
    assert "/en/contracts" in own and "/staff" not in own


def test_the_footer_follows_the_language_and_each_apps_settings(app, client, tmp_path):
    assert "Infolinia" in client.get("/pl/").get_data(as_text=True)
    assert "Help line" in client.get("/en/").get_data(as_text=True)
    other = create_app(
        TEST_CONFIG
        | {
            "DATABASE_URL": f"sqlite:///{tmp_path / 'other.db'}",
            "HELPLINE_PHONE": "+48 22 111 22 33",
        }
    )
    page = other.test_client().get("/pl/").get_data(as_text=True)
    assert 'href="tel:+48221112233"' in page
    assert app.config["HELPLINE_PHONE"] not in page


def test_a_changed_secret_key_refuses_the_old_session(app, client, dbconn):
    login(client, make_user())
    assert client.get("/pl/account").status_code == 200
    app.secret_key = "another-secret-key-for-this-test"
    response = client.get("/pl/account")
    assert response.status_code == 302 and "/pl/login" in response.location
