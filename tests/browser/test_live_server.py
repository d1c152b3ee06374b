"""The browsers' server itself: an answer the client abandoned leaves no file open.

Werkzeug's development server skips closing an answer when the connection is
reset during its last read; Chromium does that when it abandons a load, and the
unclosed static file then fails whichever test is running (ResourceWarning).
"""

import gc
import io

from werkzeug.test import EnvironBuilder

from .conftest import closing_app_iter


def _open_files(name):
    return [
        o
        for o in gc.get_objects()
        if isinstance(o, io.BufferedReader)
        and str(getattr(o, "name", "")).endswith(name)
        and not o.closed
    ]


def test_abandoned_static_answer_closes_its_file(app):
    environ = EnvironBuilder(path="/static/img/favicon.svg").get_environ()
    answer = closing_app_iter(app)(environ, lambda *_: None)
    next(iter(answer))  # the first chunk went out, then the client was gone
    assert len(_open_files("favicon.svg")) == 1
    del answer  # what the server does when it skips close()
    assert _open_files("favicon.svg") == []
