"""The administrators' console: only administrators get in, and it is in
the main menu for them alone."""

from .factories import login, make_user


def test_only_an_administrator_sees_the_console_and_its_menu_entry(app, client, dbconn):
    engineer = make_user(role="engineer", company=None, email="inz@example.pl")
    admin = make_user(role="admin", company=None, email="admin@example.pl")

    login(client, engineer)
    assert client.get("/pl/staff/").status_code == 200
    assert "/pl/admin/" not in client.get("/pl/staff/").get_data(as_text=True)
    assert client.get("/pl/admin/").status_code in (403, 404)

    client = app.test_client()
    login(client, admin)
    queue = client.get("/pl/staff/").get_data(as_text=True)
    assert 'href="/pl/admin/"' in queue
    page = client.get("/pl/admin/")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "<h1>Administracja</h1>" in html
    assert 'href="/pl/admin/" aria-current="page"' in html


def test_the_start_page_leads_to_every_section_most_used_first(app, dbconn):
    admin = make_user(role="admin", company=None, email="admin@example.pl")
    client = app.test_client()
    login(client, admin, lang="en")
    html = client.get("/en/admin/").get_data(as_text=True)
    sections = ["people", "settings", "imports", "catalogue", "audit"]
    places = [html.index(f'href="/en/admin/{name}') for name in sections]
    assert places == sorted(places)
    for name in sections:
        assert client.get(f"/en/admin/{name}").status_code == 200, name
