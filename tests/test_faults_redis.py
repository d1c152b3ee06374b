"""Redis (the shared rate-limit counters) down: limited routes still answer."""

import pytest

from .factories import make_user


@pytest.fixture
def config_overrides():
    return {
        "RATELIMIT_ENABLED": True,
        "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:9/0",  # nothing listens
        "LOGIN_RATE_LIMIT": "3/minute",
    }


def test_redis_unreachable_login_still_answers_and_is_limited(client, dbconn):
    user = make_user()
    statuses = [
        client.post(
            "/pl/login", data={"email": user.email, "password": "wrong password"}
        ).status_code
        for _ in range(4)
    ]
    # Counted in the process's memory meanwhile: the limit still holds.
    assert 500 not in statuses[:3] and statuses[3] == 429
