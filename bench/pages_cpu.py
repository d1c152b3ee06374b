"""CPU per request of the page benchmark's pages in English and Polish, in-process.

    python bench/pages_cpu.py [--backend sqlite] [--requests 20] [--rounds 8]
        [--lang en|pl|both] [--profile PAGE] [--manifest PATH] [--pages a,b]
        [--cold]

Uses the workspace ``gen_workspace.py`` made (its manifest in ``bench/out/``),
builds the app once and signs the benchmark's customer and engineer in by
their session, then requests each page of ``floor_app.PAGES`` with the Flask
test client: ``--rounds`` rounds of ``--requests`` GETs per language, the
languages taking turns (so a drift of the machine falls on both), after 10
warm-up requests each; ``gc.freeze()`` as ``app.py`` does. It prints the
lowest round's ``time.process_time()`` per request (CPU, not wall time: other
processes only ever add to a round) and the Polish/English ratio. The figures
include the test client's own work and SQLite's (in the same process).
``--profile PAGE`` prints cProfile's top functions of that page in each
language instead (``SORT=tottime`` for own time). ``--manifest`` takes
another workspace's manifest, e.g. the peer harness's 20,000 cases
(``bench/peer.sh``), whose 10-message case adds the pages ``case_10`` and
``staff_case_10`` (the harness's "view" and "staffview"). The same page
asked again is a kept one (``hezo.kept_pages``) where the portal keeps it;
``--cold`` empties the kept pages before each request, so that every one
renders, as the first request after a change does.
"""

import argparse
import cProfile
import gc
import json
import os
import pstats
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from common import signed_in_client, workspace_app  # noqa: E402
from floor_app import PAGES, real_path  # noqa: E402
from gen_workspace import manifest_path  # noqa: E402


def signed_in_clients(app, manifest: dict) -> dict:
    from hezo.models import User

    clients = {}
    for role in ("customer", "engineer"):
        with app.app_context():
            user = User.get(User.email == manifest[role]["email"])
        clients[role] = signed_in_client(app, user, role)
    return clients


#: The peer harness's pages, when the manifest names its 10-message case.
PEER_PAGES = {
    "case_10": ("customer", "/{lang}/cases/{case_10}"),
    "staff_case_10": ("engineer", "/{lang}/cases/{case_10}"),
}


def get(client, path: str) -> None:
    response = client.get(path)
    response.close()
    if response.status_code != 200:
        raise RuntimeError(f"GET {path}: {response.status_code}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--requests", type=int, default=20, help="per round (20)")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--lang", choices=("en", "pl", "both"), default="both")
    parser.add_argument("--profile", choices=sorted(PAGES | PEER_PAGES))
    parser.add_argument("--manifest", type=Path, help="another workspace's manifest")
    parser.add_argument("--pages", help="comma-separated page names (all)")
    parser.add_argument(
        "--cold",
        action="store_true",
        help="no kept pages (hezo.kept_pages): every request renders, as the "
        "first one after a change does",
    )
    args = parser.parse_args()
    manifest = json.loads((args.manifest or manifest_path(args.backend)).read_text())
    if "case_10" in manifest:
        PAGES.update(PEER_PAGES)
    app = workspace_app(manifest)
    clients = signed_in_clients(app, manifest)
    gc.freeze()  # as app.py does in each gunicorn worker
    langs = ("en", "pl") if args.lang == "both" else (args.lang,)
    names = [args.profile] if args.profile else list(PAGES)
    if args.pages and not args.profile:
        names = [n for n in args.pages.split(",") if n in PAGES]
    print(
        f"{manifest['backend']}, scale {manifest['scale']}: CPU ms per request, "
        f"the lowest of {args.rounds} rounds of {args.requests}"
        + (", every page rendered (--cold)" if args.cold else "")
    )
    for name in names:
        client = clients[PAGES[name][0]]
        paths = {lang: real_path(name, manifest, lang) for lang in langs}
        for path in paths.values():
            for _ in range(10):  # warm-up (templates, caches)
                get(client, path)
        if args.profile:
            for path in paths.values():
                profiler = cProfile.Profile()
                profiler.enable()
                for _ in range(args.requests):
                    get(client, path)
                profiler.disable()
                print(f"== {path}")
                order = os.environ.get("SORT", "cumulative")
                pstats.Stats(profiler).sort_stats(order).print_stats(40)
            continue
        rounds = {lang: [] for lang in langs}
        for _ in range(args.rounds):
            for lang, path in paths.items():
                kept = app.extensions.setdefault("hezo_kept_pages", {})
                started = time.process_time()
                for _ in range(args.requests):
                    if args.cold:
                        kept.clear()
                    get(client, path)
                cpu = time.process_time() - started
                rounds[lang].append(cpu / args.requests * 1000)
        best = {lang: min(figures) for lang, figures in rounds.items()}
        line = "  ".join(f"{lang} {ms:6.2f}" for lang, ms in best.items())
        if len(best) == 2:
            line += f"  pl/en {best['pl'] / best['en']:.2f}"
        print(f"  {name:<17} {line}", flush=True)


if __name__ == "__main__":
    main()
