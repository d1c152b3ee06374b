"""Page latency and throughput of the portal under gunicorn, beside the floor.

    python bench/bench_pages.py [--backend sqlite|postgresql|both] [--requests 500]
        [--lang en|pl|both] [--scale 1.0] [--concurrency 4] [--workers 2]
        [--regenerate]

For each backend: makes the workspace with ``gen_workspace.py`` (or reuses it
when its manifest says the same scale), starts two gunicorns on free loopback
ports with the same settings (``--workers 2``, sync workers): the app
(``app:app``) and the floor (``floor_app.py``, the same pages rendered by bare
Flask + Jinja from memory), signs in through the real forms (password, then a
TOTP code from the known secret) as the big company's customer and as an
engineer, and measures, for each page in each language of ``--lang`` (both
by default: ``/en/…`` and ``/pl/…``, each beside the floor's page in the same
language, rendered with the same catalogue):

1. latency: ``--requests`` sequential requests per page from one client after
   20 warm-up requests, the app's and the floor's in turns of 50, so that the
   machine's drift falls on both alike (no queueing: median
   and p99 are the server's time plus the loopback HTTP round trip, which the
   floor pays too);
2. throughput: the same number of requests from ``--concurrency`` client
   threads at once: requests per second (and the latencies under that load);
3. the PDF export of the 100-message case: median of ``--pdf-runs`` (10), in
   each language.

Before that, one request per page runs in-process (``--no-queries`` skips it)
with every SQL statement recorded: the count per page, each statement replayed
alone (median of 5, rows fetched) and the plan of the slowest ones (``EXPLAIN
QUERY PLAN`` / ``EXPLAIN ANALYZE``); in English only (the statements of a page
do not depend on its language).

Only 127.0.0.1 is contacted; every loop is bounded by count and by
``--time-limit`` seconds; both gunicorns are stopped at the end, also on
errors. Results go to ``bench/out/pages-<backend>.json`` (one entry per page
and language, with its ``lang``); the exit status is 1 when a target is missed.

Targets (issues 4 and 5), checked per language: each page's median within 2x
the floor's median (in the same language) and its p99 under 50 ms; the PDF of
a 100-message case under 0.3 s.
"""

import argparse
import http.client
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlencode

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(1, str(BENCH_DIR.parent))

from common import (  # noqa: E402
    DEFAULT_PG_URL,
    OUT_DIR,
    REPO_ROOT,
    emit,
    run_child,
    signed_in_client,
    stop_process_group,
    workspace_app,
)
from floor_app import PAGES, floor_path, real_path  # noqa: E402
from gen_workspace import PG_SCHEMA, manifest_path  # noqa: E402

SCRIPT = Path(__file__).resolve()
VENV_BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
COOKIE = "hezo_session"
RATIO_TARGET = 2.0
P99_TARGET_MS = 50.0
PDF_TARGET_S = 0.3
WARMUP = 20
BLOCK = 50  # requests per turn when app and floor are measured in turns
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# -- HTTP on loopback -------------------------------------------------------


class Client:
    """One signed-in (or anonymous) browser: a session cookie and a port."""

    def __init__(self, port: int, timeout: float = 30.0, lang: str = "en"):
        self.port = port
        self.timeout = timeout
        self.lang = lang  # the browser's Accept-Language (pages name their own)
        self.cookie = ""

    def request(
        self, method: str, path: str, form: dict | None = None, keep_cookie: bool = True
    ) -> tuple[int, dict, bytes]:
        conn = http.client.HTTPConnection(HOST, self.port, timeout=self.timeout)
        try:
            headers = {"Accept-Language": self.lang}
            if self.cookie:
                headers["Cookie"] = f"{COOKIE}={self.cookie}"
            body = None
            if form is not None:
                body = urlencode(form)
                headers["Content-Type"] = "application/x-www-form-urlencoded"
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            data = response.read()
            if keep_cookie:
                for name, value in response.getheaders():
                    if name.lower() == "set-cookie" and value.startswith(COOKIE + "="):
                        self.cookie = value.split(";", 1)[0].split("=", 1)[1]
            return response.status, dict(response.getheaders()), data
        finally:
            conn.close()

    def get(self, path: str) -> bytes:
        # Like a browser, keep the cookie the app sends (the session's idle
        # clock moves once a minute); ignoring it would make every request
        # re-sign the session, which no real user does.
        status, _headers, data = self.request("GET", path)
        if status != 200:
            raise RuntimeError(f"GET {path}: {status} {data[:300]!r}")
        return data

    def csrf(self, path: str) -> str:
        status, _h, data = self.request("GET", path)
        match = CSRF_RE.search(data.decode())
        if status != 200 or not match:
            raise RuntimeError(f"GET {path}: {status}, no CSRF token")
        return match.group(1)

    def sign_in(self, email: str, password: str, totp_secret: str) -> None:
        """The real forms: e-mail and password, then a TOTP code."""
        import pyotp

        token = self.csrf("/en/login")
        status, headers, data = self.request(
            "POST",
            "/en/login",
            {"email": email, "password": password, "csrf_token": token},
        )
        if status != 303:
            raise RuntimeError(f"login {email}: {status} {data[:300]!r}")
        totp = pyotp.TOTP(totp_secret)
        for offset in (0, 1):  # a code of a step used already is refused
            token = self.csrf("/en/login/code")
            code = totp.at(time.time(), counter_offset=offset)
            status, headers, data = self.request(
                "POST", "/en/login/code", {"code": code, "csrf_token": token}
            )
            if status == 303:
                return
        raise RuntimeError(f"login code {email}: {status} {data[:300]!r}")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


class Gunicorn:
    """A gunicorn serving ``target`` on a free loopback port; stopped by ``stop``."""

    def __init__(
        self, name: str, target: str, chdir: Path, env: dict, workers: int, log: Path
    ):
        self.name = name
        self.port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [
                str(VENV_BIN / "gunicorn"),
                "--bind",
                f"{HOST}:{self.port}",
                "--workers",
                str(workers),
                "--worker-class",
                "sync",
                "--timeout",
                "120",
                "--log-level",
                "warning",
                "--chdir",
                str(chdir),
                target,
            ],
            env=env,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, ended in stop()
        )

    def wait_ready(self, path: str, seconds: float = 180.0) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                status, _h, _d = Client(self.port, 5).request("GET", path)
                if status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        self.stop()
        tail = self.log.read_text(errors="replace")[-3000:]
        raise RuntimeError(f"{self.name} gunicorn did not start:\n{tail}")

    def stop(self) -> None:
        stop_process_group(self.proc)


# -- measuring -------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def interleaved(
    pairs: list[tuple[Client, str]], count: int, limit: float, block: int = BLOCK
) -> list[list[float]]:
    """``count`` sequential requests to each (client, path), in turns of
    ``block`` requests: a drift of the machine meanwhile (other processes, CPU
    frequency) falls on both sides alike, and within a turn each side runs as
    warm as in a loop of its own (one request each in turn would let the app
    push the floor's code and data out of the CPU's caches, and make the floor
    look slower than it is)."""
    for client, path in pairs:
        for _ in range(min(WARMUP, count)):
            client.get(path)
    times: list[list[float]] = [[] for _ in pairs]
    deadline = time.monotonic() + limit
    while len(times[0]) < count and time.monotonic() < deadline:
        for (client, path), mine in zip(pairs, times, strict=True):
            for _ in range(min(block, count - len(mine))):
                started = time.perf_counter()
                client.get(path)
                mine.append(time.perf_counter() - started)
    return times


def concurrent(
    client: Client, path: str, count: int, threads: int, limit: float
) -> tuple[list[float], float]:
    """``count`` requests from ``threads`` clients at once: latencies and wall time."""
    lock = threading.Lock()
    left = [count]
    times: list[float] = []
    deadline = time.monotonic() + limit

    def worker():
        mine = Client(client.port, client.timeout, client.lang)
        mine.cookie = client.cookie
        while time.monotonic() < deadline:
            with lock:
                if left[0] <= 0:
                    return
                left[0] -= 1
            started = time.perf_counter()
            mine.get(path)
            elapsed = time.perf_counter() - started
            with lock:
                times.append(elapsed)

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    return times, time.perf_counter() - started


def summary(times: list[float], wall: float | None = None) -> dict:
    out = {
        "n": len(times),
        "median_ms": statistics.median(times) * 1000,
        "p99_ms": percentile(times, 99) * 1000,
    }
    if wall is not None:
        out["rps"] = len(times) / wall
    return out


def same_page(real: bytes, floor: bytes) -> dict:
    """How alike two bodies are: sizes and the share of identical lines."""
    import difflib

    a, b = real.decode().splitlines(), floor.decode().splitlines()
    ratio = difflib.SequenceMatcher(None, a, b, autojunk=False).ratio()
    return {
        "real_bytes": len(real),
        "floor_bytes": len(floor),
        "same_lines": round(ratio, 3),
    }


def server_env(manifest: dict) -> dict:
    env = dict(os.environ)
    env.update(
        PYTHONPATH=str(REPO_ROOT),
        HEZO_DATABASE_URL=manifest["url"],
        HEZO_SECRET_KEY=manifest["secret_key"],
        HEZO_TOTP_ENCRYPTION_KEY=manifest["totp_encryption_key"],
        HEZO_TRUSTED_HOSTS=json.dumps([HOST]),
        HEZO_SESSION_COOKIE_SECURE="false",
        HEZO_SESSION_COOKIE_NAME=COOKIE,
        HEZO_RATELIMIT_ENABLED="false",
        BENCH_MANIFEST=str(manifest_path(manifest["backend"])),
    )
    if manifest.get("options"):
        env["HEZO_DATABASE_OPTIONS"] = json.dumps(manifest["options"])
    return env


def reset_logins(manifest: dict) -> None:
    """Let the benchmark users sign in again: TOTP steps and failure counters."""
    from hezo.db import make_database

    database = make_database(manifest["url"], manifest.get("options"))
    database.connect()
    try:
        database.execute_sql(
            'UPDATE "user" SET totp_last_step = 0, '
            "failed_otps = 0, otp_blocked_until = NULL "
            "WHERE email IN (%s, %s)".replace(
                "%s", "?" if manifest["backend"] == "sqlite" else "%s"
            ),
            (manifest["customer"]["email"], manifest["engineer"]["email"]),
        )
    finally:
        database.close()


def measure_backend(manifest: dict, args: argparse.Namespace) -> dict:
    backend = manifest["backend"]
    langs = languages(args.lang)
    env = server_env(manifest)
    reset_logins(manifest)
    results = {
        "backend": backend,
        "scale": manifest["scale"],
        "counts": manifest["counts"],
        "workers": args.workers,
        "concurrency": args.concurrency,
        "langs": list(langs),
        "pages": [],
        "pdf": [],
        "load_before": os.getloadavg()[0],
    }
    servers = []
    try:
        app = Gunicorn(
            "app",
            "app:app",
            REPO_ROOT,
            env,
            args.workers,
            OUT_DIR / f"pages-{backend}-app.log",
        )
        servers.append(app)
        floor = Gunicorn(
            "floor",
            "floor_app:create_app()",
            BENCH_DIR,
            env,
            args.workers,
            OUT_DIR / f"pages-{backend}-floor.log",
        )
        servers.append(floor)
        app.wait_ready("/en/login")
        floor.wait_ready("/floor/")
        signed_in = {}
        for role in ("customer", "engineer"):
            signed_in[role] = Client(app.port)
            signed_in[role].sign_in(
                manifest[role]["email"], manifest["password"], manifest[role]["totp"]
            )
        for name, (role, _path) in PAGES.items():
            for lang in langs:  # a page's languages one after the other
                user = Client(app.port, lang=lang)
                user.cookie = signed_in[role].cookie
                floor_client = Client(floor.port, lang=lang)
                page = measure_page(name, lang, manifest, user, floor_client, args)
                results["pages"].append(page)
                print_page(page)
        for lang in langs:
            user = Client(app.port, lang=lang)
            user.cookie = signed_in["customer"].cookie
            pdf = measure_pdf(f"/{lang}/cases/{manifest['case_100']}/pdf", user, args)
            results["pdf"].append(pdf | {"lang": lang})
            print(
                f"  pdf {pdf['path']}: median {pdf['median_s']:.3f} s "
                f"(max {pdf['max_s']:.3f} s, {pdf['bytes']:,} bytes)"
            )
    finally:
        for server in servers:
            server.stop()
    results["load_after"] = os.getloadavg()[0]
    print(
        f"  load average (1 min) {results['load_before']:.2f} before, "
        f"{results['load_after']:.2f} after"
    )
    return results


def measure_page(
    name: str,
    lang: str,
    manifest: dict,
    user: Client,
    floor_client: Client,
    args: argparse.Namespace,
) -> dict:
    """One page in one language: app and floor in turns, then under load."""
    path = real_path(name, manifest, lang)
    floor_url = floor_path(name, lang)
    page = {"page": name, "lang": lang, "path": path}
    page |= same_page(user.get(path), floor_client.get(floor_url))
    sides = (("app", user, path), ("floor", floor_client, floor_url))
    latencies = interleaved(
        [(client, url) for _side, client, url in sides],
        args.requests,
        args.time_limit,
    )
    for (side, client, url), times in zip(sides, latencies, strict=True):
        page[side] = summary(times)
        times, wall = concurrent(
            client, url, args.requests, args.concurrency, args.time_limit
        )
        page[side + "_load"] = summary(times, wall)
    return page


def measure_pdf(path: str, user: Client, args: argparse.Namespace) -> dict:
    times = []
    for run in range(args.workers + args.pdf_runs):  # a warm-up per worker
        started = time.perf_counter()
        status, _headers, data = user.request("GET", path, keep_cookie=False)
        if run >= args.workers:
            times.append(time.perf_counter() - started)
        if status != 200 or not data.startswith(b"%PDF"):
            raise RuntimeError(f"GET {path}: {status} {data[:200]!r}")
    return {
        "path": path,
        "n": len(times),
        "bytes": len(data),
        "median_s": statistics.median(times),
        "max_s": max(times),
    }


def languages(choice: str) -> tuple[str, ...]:
    return ("en", "pl") if choice == "both" else (choice,)


def print_page(page: dict) -> None:
    a, f = page["app"], page["floor"]
    print(
        f"  {page['page']:<17} {page['lang']} app {a['median_ms']:6.1f} / "
        f"{a['p99_ms']:6.1f} ms "
        f"(n={a['n']}), "
        f"{page['app_load']['rps']:6.1f} req/s | floor {f['median_ms']:5.1f} / "
        f"{f['p99_ms']:5.1f} ms, {page['floor_load']['rps']:6.1f} req/s | "
        f"{page['real_bytes']:,} vs {page['floor_bytes']:,} bytes, "
        f"{page['same_lines']:.0%} same lines",
        flush=True,
    )


def checks(results: dict) -> list[tuple[str, bool]]:
    out = []
    b = results["backend"]
    for page in results["pages"]:
        a, f = page["app"], page["floor"]
        name = f"{page['page']} ({page['lang']})"
        limit = RATIO_TARGET * f["median_ms"]
        out.append(
            (
                f"{b}: {name} median {a['median_ms']:.1f} ms <= 2 x floor "
                f"({limit:.1f} ms)",
                a["median_ms"] <= limit,
            )
        )
        out.append(
            (
                f"{b}: {name} p99 {a['p99_ms']:.1f} ms < {P99_TARGET_MS:.0f} ms",
                a["p99_ms"] < P99_TARGET_MS,
            )
        )
    for pdf in results["pdf"]:
        out.append(
            (
                f"{b}: PDF of the 100-message case ({pdf['lang']}) "
                f"{pdf['median_s']:.3f} s < {PDF_TARGET_S} s",
                pdf["median_s"] < PDF_TARGET_S,
            )
        )
    return out


def print_table(all_results: list[dict]) -> None:
    print(
        "\n| backend | lang | page | app median ms | app p99 ms | app req/s | "
        "floor median ms | floor p99 ms | floor req/s | app/floor | "
        "median ≤ 2× floor | p99 < 50 ms |"
    )
    print("|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for r in all_results:
        for page in r["pages"]:
            a, f = page["app"], page["floor"]
            ratio = a["median_ms"] / f["median_ms"]
            print(
                f"| {r['backend']} | {page['lang']} | {page['page']} | "
                f"{a['median_ms']:.1f} | "
                f"{a['p99_ms']:.1f} | {page['app_load']['rps']:.0f} | "
                f"{f['median_ms']:.1f} | {f['p99_ms']:.1f} | "
                f"{page['floor_load']['rps']:.0f} | {ratio:.2f} | "
                f"{'PASS' if ratio <= RATIO_TARGET else 'MISS'} | "
                f"{'PASS' if a['p99_ms'] < P99_TARGET_MS else 'MISS'} |"
            )
    print()
    for r in all_results:
        for pdf in r["pdf"]:
            print(
                f"{r['backend']} ({pdf['lang']}): PDF of the 100-message case, "
                f"median of {pdf['n']}: {pdf['median_s']:.3f} s "
                f"({'PASS' if pdf['median_s'] < PDF_TARGET_S else 'MISS'} "
                f"< {PDF_TARGET_S} s)"
            )


# -- the statements of each page (in-process child) -------------------------


def child_queries(manifest_file: Path) -> None:
    """Every SQL statement of one request per page, replayed and explained."""
    manifest = json.loads(manifest_file.read_text())
    from hezo.db import db
    from hezo.models import User

    app = workspace_app(manifest)
    database = db.obj
    recorded: list[tuple[str, tuple]] = []
    original = database.execute_sql

    def recording(sql, params=None, *rest, **kwargs):
        recorded.append((sql, tuple(params or ())))
        return original(sql, params, *rest, **kwargs)

    pages = {}
    paths = {name: real_path(name, manifest) for name in PAGES}
    paths["pdf_100"] = f"/en/cases/{manifest['case_100']}/pdf"
    for name, path in paths.items():
        role = PAGES[name][0] if name in PAGES else "customer"
        user = User.get(User.email == manifest[role]["email"])
        db.close()
        client = signed_in_client(app, user, name)
        for _ in range(2 if name == "pdf_100" else 5):  # warm caches
            response = client.get(path)
        recorded.clear()
        database.execute_sql = recording
        response = client.get(path)
        database.execute_sql = original
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code}")
        statements = []
        db.connect(reuse_if_open=True)
        for sql, params in recorded:
            times = []
            reads = sql.lstrip().upper().startswith("SELECT")
            for _ in range(5 if reads else 0):  # writes are not repeated
                started = time.perf_counter()
                database.execute_sql(sql, params).fetchall()
                times.append(time.perf_counter() - started)
            statements.append(
                {
                    "sql": sql,
                    "params": [str(p) for p in params],
                    "ms": statistics.median(times) * 1000 if times else 0.0,
                    "_params": params,
                }
            )
        for statement in sorted(statements, key=lambda s: -s["ms"])[:2]:
            if statement["ms"] >= 1.0:
                statement["plan"] = explain(
                    database,
                    manifest["backend"],
                    statement["sql"],
                    statement["_params"],
                )
        for statement in statements:
            del statement["_params"]
        db.close()
        pages[name] = {
            "path": path,
            "queries": len(statements),
            "db_ms": sum(s["ms"] for s in statements),
            "statements": statements,
        }
    emit({"pages": pages})


def explain(database, backend: str, sql: str, params: tuple) -> list[str]:
    if backend == "sqlite":
        rows = database.execute_sql("EXPLAIN QUERY PLAN " + sql, params).fetchall()
        depth = {0: -1}
        lines = []
        for node, parent, _unused, detail in rows:
            depth[node] = depth.get(parent, -1) + 1
            lines.append("  " * depth[node] + detail)
        return lines
    rows = database.execute_sql("EXPLAIN (ANALYZE, BUFFERS) " + sql, params).fetchall()
    return [row[0] for row in rows]


def print_queries(backend: str, pages: dict) -> None:
    print(f"  SQL per request ({backend}): statements, each replayed alone")
    for name, page in pages.items():
        slowest = max(page["statements"], key=lambda s: s["ms"])
        print(
            f"    {name:<17} {page['queries']:>2} statements, "
            f"{page['db_ms']:7.2f} ms in all; slowest {slowest['ms']:.2f} ms: "
            f"{shorten(slowest['sql'])}"
        )
        for statement in page["statements"]:
            if "plan" in statement:
                print(f"      plan of the {statement['ms']:.2f} ms statement:")
                for line in statement["plan"]:
                    print(f"        {line}")


def shorten(sql: str, width: int = 110) -> str:
    sql = " ".join(sql.split())
    return sql if len(sql) <= width else sql[: width - 1] + "…"


# -- the parent ------------------------------------------------------------


def ensure_workspace(backend: str, args: argparse.Namespace) -> dict:
    path = manifest_path(backend)
    manifest = json.loads(path.read_text()) if path.exists() else None
    fresh = (
        manifest is not None
        and manifest["scale"] == args.scale
        and not args.regenerate
        and workspace_exists(manifest)
    )
    if not fresh:
        command = [
            sys.executable,
            str(BENCH_DIR / "gen_workspace.py"),
            "--backend",
            backend,
            "--scale",
            str(args.scale),
            "--pg-url",
            args.pg_url,
        ]
        subprocess.run(
            command,
            cwd=REPO_ROOT,
            check=True,
            env=dict(os.environ, PYTHONPATH=str(REPO_ROOT)),
        )
        manifest = json.loads(path.read_text())
    else:
        print(
            f"{backend}: reusing the workspace of {manifest['generated_at']} "
            f"(scale {manifest['scale']})"
        )
    return manifest


def workspace_exists(manifest: dict) -> bool:
    if manifest["backend"] == "sqlite":
        return Path(manifest["url"].removeprefix("sqlite:///")).exists()
    import psycopg

    try:
        with psycopg.connect(manifest["url"], connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT to_regclass(%s)", (f"{PG_SCHEMA}.support_case",)
            ).fetchone()
        return row[0] is not None
    except psycopg.OperationalError:
        return False


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--backend", choices=("sqlite", "postgresql", "both"), default="both"
    )
    parser.add_argument(
        "--requests", type=int, default=500, help="requests per page and phase (500)"
    )
    parser.add_argument(
        "--lang",
        choices=("en", "pl", "both"),
        default="both",
        help="the pages' language(s), each beside the floor in it (both)",
    )
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pdf-runs", type=int, default=10)
    parser.add_argument(
        "--time-limit",
        type=float,
        default=120.0,
        help="seconds per page and phase at most (120)",
    )
    parser.add_argument("--regenerate", action="store_true")
    parser.add_argument(
        "--no-queries",
        action="store_true",
        help="skip the in-process SQL statement report",
    )
    parser.add_argument(
        "--pg-url", default=os.environ.get("HEZO_BENCH_POSTGRES_URL", DEFAULT_PG_URL)
    )
    parser.add_argument("--child", choices=("queries",), help=argparse.SUPPRESS)
    parser.add_argument("--manifest", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child == "queries":
        child_queries(args.manifest)
        return 0
    if not 1 <= args.requests <= 100_000 or not 1 <= args.concurrency <= 64:
        parser.error("--requests 1..100000, --concurrency 1..64")

    backends = ("sqlite", "postgresql") if args.backend == "both" else (args.backend,)
    print(
        f"cpus {os.cpu_count()}, python {sys.version.split()[0]}, gunicorn "
        f"--workers {args.workers} (sync) for the app and the floor; "
        f"{args.requests} requests per page and language "
        f"({', '.join(languages(args.lang))}) sequentially, then from "
        f"{args.concurrency} threads"
    )
    all_results = []
    for backend in backends:
        manifest = ensure_workspace(backend, args)
        print(
            f"{backend}: "
            + ", ".join(f"{t} {c:,}" for t, c in manifest["counts"].items())
        )
        queries = None
        if not args.no_queries:
            queries = run_child(
                SCRIPT,
                ["--child", "queries", "--manifest", str(manifest_path(backend))],
            )["pages"]
            print_queries(backend, queries)
        results = measure_backend(manifest, args)
        if queries:
            results["queries"] = queries
        (OUT_DIR / f"pages-{backend}.json").write_text(
            json.dumps(results, indent=2, ensure_ascii=False) + "\n"
        )
        all_results.append(results)
    print_table(all_results)
    missed = False
    print()
    for r in all_results:
        for text, passed in checks(r):
            missed |= not passed
            print(f"{'PASS' if passed else 'MISS'}  {text}")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
