"""WSGI entry point: ``gunicorn app:app`` or ``flask --app app run``."""

import gc

from hezo import create_app

app = create_app()

# What the app loaded at start-up (modules, templates, catalogues) lives as long
# as the process: take it out of the cyclic collector's way, so the collections
# that requests' allocations set off scan only new objects (CPython's advice for
# servers; a quarter of a millisecond on the case page).
gc.freeze()
