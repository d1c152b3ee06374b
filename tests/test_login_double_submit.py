"""The same TOTP code posted twice: a double click signs in, a replay does not."""

import pytest

from hezo.models import User

from .factories import PASSWORD, fresh_code, make_user, race


@pytest.fixture
def user(dbconn):
    return make_user()


def pending_sign_in(app, user):
    """A client past the password step, waiting for the code."""
    client = app.test_client()
    response = client.post(
        "/pl/login?next=/pl/cases/", data={"email": user.email, "password": PASSWORD}
    )
    assert response.status_code == 303
    return client


def same_browser(app, client):
    """Another request of the same browser sent before the first one's answer
    came back: it carries the pending sign-in's cookie."""
    name = app.config["SESSION_COOKIE_NAME"]
    twin = app.test_client()
    twin.set_cookie(name, client.get_cookie(name).value)
    return twin


def post_code(client, code):
    return client.post("/pl/login/code?next=/pl/cases/", data={"code": code})


def failures(user) -> int:
    return User.get_by_id(user.id).failed_otps


def in_parallel(app, clients, code) -> list:
    """Post ``code`` from every client at once, each in its own thread."""
    queue = iter(clients)
    return race(app, lambda: post_code(next(queue), code), threads=len(clients))


def test_double_click_on_sign_in_signs_in_twice_without_a_failure(app, user):
    first = pending_sign_in(app, user)
    second = same_browser(app, first)
    code = fresh_code(user)
    one, two = post_code(first, code), post_code(second, code)
    assert one.status_code == two.status_code == 303
    assert one.location == two.location == "/pl/cases/"
    assert failures(user) == 0
    assert second.get("/pl/contracts/").status_code == 200


def test_code_used_by_another_pending_sign_in_is_refused_and_counted(app, user):
    mine, theirs = pending_sign_in(app, user), pending_sign_in(app, user)
    code = fresh_code(user)
    assert post_code(mine, code).status_code == 303
    assert post_code(theirs, code).status_code == 422
    assert failures(user) == 1
    assert theirs.get("/pl/contracts/").status_code == 302


def test_parallel_double_submit_from_one_sign_in_all_sign_in(app, user):
    first = pending_sign_in(app, user)
    clients = [first] + [same_browser(app, first) for _ in range(3)]
    answers = in_parallel(app, clients, fresh_code(user))
    assert [a.status_code for a in answers] == [303] * 4
    assert {a.location for a in answers} == {"/pl/cases/"}
    assert failures(user) == 0


def test_parallel_posts_from_two_sign_ins_let_only_one_in(app, user):
    clients = [pending_sign_in(app, user) for _ in range(2)]
    answers = in_parallel(app, clients, fresh_code(user))
    assert sorted(a.status_code for a in answers) == [303, 422]
    assert failures(user) == 1


def test_a_wrong_code_from_the_same_sign_in_still_counts(app, user):
    first = pending_sign_in(app, user)
    second = same_browser(app, first)
    assert post_code(first, fresh_code(user)).status_code == 303
    assert post_code(second, "000000").status_code == 422
    assert failures(user) == 1
