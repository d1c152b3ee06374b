"""The fuzzer of tests/fuzz.py as a test: every route, method and role once
with known and with bad values, then randomised requests (hypothesis), about
2,500 in all. Any 5xx, or any answer without the security headers (SECURITY
#48), fails. ``bench/bench_fuzz.py`` runs the same over 10,000 requests.
"""

from . import fuzz


def test_no_request_ends_in_a_server_error_or_without_headers(app, dbconn):
    world = fuzz.make_world(app)
    swept = fuzz.sweep(app, world)
    fuzzed = fuzz.run(app, world, examples=100, per_example=10)
    every = {r.endpoint for r in app.url_map.iter_rules()}
    assert set(swept.endpoints) == every
    assert swept.failures == fuzzed.failures == []
    assert fuzzed.total == 1000
