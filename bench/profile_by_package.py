"""Where a page's CPU goes, by package: cProfile's own time of each function
summed per library (jinja2, peewee, werkzeug, flask, babel, sqlite3...) and
per module of ours, on the page benchmark's workspace.

    python bench/profile_by_package.py PAGE [--manifest PATH] [--lang pl]
        [--requests 200]

PAGE is one of ``bench/pages_cpu.py``'s pages. The shares, not the absolute
times, are the point (cProfile slows Python code more than C code).
"""

import argparse
import cProfile
import gc
import json
import pstats
import sys
from collections import Counter
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from common import workspace_app  # noqa: E402
from gen_workspace import manifest_path  # noqa: E402
from pages_cpu import PAGES, PEER_PAGES, get, signed_in_clients  # noqa: E402


def owner(filename: str) -> str:
    """The library (or our module) a function's file belongs to."""
    if filename.startswith("~") or filename.startswith("<"):
        return "builtins (C)"
    parts = Path(filename).parts
    if "site-packages" in parts:
        return parts[parts.index("site-packages") + 1].split(".")[0]
    if "templates" in parts:
        return "templates (compiled Jinja)"
    if "hezo" in parts:
        return "hezo/" + "/".join(parts[parts.index("hezo") + 1 :])
    return "python stdlib"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page")
    parser.add_argument("--manifest", type=Path)
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--lang", default="pl")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    manifest = json.loads((args.manifest or manifest_path(args.backend)).read_text())
    pages = PAGES | (PEER_PAGES if "case_10" in manifest else {})
    role, _ = pages[args.page]
    app = workspace_app(manifest)
    client = signed_in_clients(app, manifest)[role]
    path = pages[args.page][1].format(**manifest, lang=args.lang)
    for _ in range(20):
        get(client, path)
    gc.freeze()
    profiler = cProfile.Profile()
    profiler.enable()
    for _ in range(args.requests):
        get(client, path)
    profiler.disable()
    stats = pstats.Stats(profiler).stats
    by_owner: Counter = Counter()
    for (filename, _line, _name), (_cc, _nc, tottime, _ct, _callers) in stats.items():
        by_owner[owner(filename)] += tottime
    total = sum(by_owner.values())
    print(f"{path}: {total / args.requests * 1000:.2f} ms per request under cProfile")
    for name, seconds in by_owner.most_common(args.top):
        print(f"  {seconds / total * 100:5.1f}%  {name}")


if __name__ == "__main__":
    main()
