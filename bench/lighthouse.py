"""Lighthouse (npm, a dev dependency) on the landing page and the signed-in
customer's case list of the portal with demo data (``demo_portal.py``), with
the mobile settings (Lighthouse's default: a phone screen, slow 4G and a
4x slower CPU, simulated) and Debian's Chromium:

    .venv/bin/python bench/lighthouse.py [--runs 3]

Prints performance, accessibility and best-practices scores (the median of
the runs) against the targets of issue 16: >= 95, 100, 100. The reports go to
``bench/out/lighthouse-<page>-<run>.json``.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys

from demo_portal import COOKIE, REPO_ROOT, demo_portal
from playwright.sync_api import sync_playwright

from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS
from tests.browser.page_states import sign_in

LIGHTHOUSE = REPO_ROOT / "node_modules/.bin/lighthouse"
OUT = REPO_ROOT / "bench/out"
CATEGORIES = ("performance", "accessibility", "best-practices")
TARGETS = {"performance": 95, "accessibility": 100, "best-practices": 100}
PAGES = (("landing", "/pl/", None), ("case-list", "/pl/cases/", "customer"))
CHROME_FLAGS = " ".join(
    ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
)


def session_cookie(base: str, world: dict, person: str) -> str:
    """Sign ``person`` in through the real forms; the session cookie's value."""
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context()
            sign_in(context.new_page(), base, world, person)
            return next(c["value"] for c in context.cookies() if c["name"] == COOKIE)
        finally:
            browser.close()


def lighthouse(url: str, report: str, cookie: str | None) -> dict:
    command = [
        str(LIGHTHOUSE),
        url,
        f"--chrome-flags={CHROME_FLAGS}",
        f"--only-categories={','.join(CATEGORIES)}",
        "--output=json",
        f"--output-path={report}",
        "--quiet",
    ]
    if cookie:
        command.append(
            "--extra-headers=" + json.dumps({"Cookie": f"{COOKIE}={cookie}"})
        )
    env = dict(os.environ, CHROME_PATH=CHROMIUM)
    for _attempt in range(3):  # a trace without navStart now and then: again
        if subprocess.run(command, env=env, check=False).returncode == 0:
            break
    else:
        raise RuntimeError(f"lighthouse failed three times on {url}")
    with open(report) as file:
        result = json.load(file)
    failing = {
        audit["id"]: audit["score"]
        for audit in result["audits"].values()
        if audit.get("score") is not None
        and audit["score"] < 1
        and audit.get("scoreDisplayMode") in ("binary", "numeric", "metricSavings")
    }
    return {
        "benchmark_index": round(result["environment"]["benchmarkIndex"]),
        "scores": {
            c: round(result["categories"][c]["score"] * 100) for c in CATEGORIES
        },
        "final_url": result["finalDisplayedUrl"],
        "below_full_marks": failing,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    if not LIGHTHOUSE.exists():
        print("lighthouse missing: run scripts/setup test", file=sys.stderr)
        return 1
    OUT.mkdir(parents=True, exist_ok=True)
    below = False
    with demo_portal() as (base, world):
        cookies = {None: None, "customer": session_cookie(base, world, "customer")}
        for name, path, person in PAGES:
            runs = [
                lighthouse(
                    base + path,
                    str(OUT / f"lighthouse-{name}-{n}.json"),
                    cookies[person],
                )
                for n in range(1, args.runs + 1)
            ]
            if runs[-1]["final_url"] != base + path:  # signed out: wrong page
                raise RuntimeError(f"{path} ended at {runs[-1]['final_url']}")
            scores = {
                c: statistics.median(r["scores"][c] for r in runs) for c in CATEGORIES
            }
            print(
                f"{name:10} {path:12} "
                + "  ".join(f"{c} {scores[c]:g}" for c in CATEGORIES)
                + f"  (median of {len(runs)}; runs: "
                + ", ".join(
                    "/".join(str(v) for v in r["scores"].values()) for r in runs
                )
                + ")"
            )
            print(
                f"{'':10} CPU benchmark index {[r['benchmark_index'] for r in runs]}"
                f", load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs"
            )
            worst: dict[str, float] = {}
            for r in runs:
                for audit, score in r["below_full_marks"].items():
                    worst[audit] = min(score, worst.get(audit, 1))
            for audit, score in sorted(worst.items()):
                print(f"{'':10} below full marks (lowest of the runs): {audit} {score}")
            below |= any(scores[c] < TARGETS[c] for c in CATEGORIES)
    print(
        "targets: performance >= 95, accessibility 100, best practices 100:",
        "NOT MET" if below else "met",
    )
    return 1 if below else 0


if __name__ == "__main__":
    sys.exit(main())
