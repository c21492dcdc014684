"""Load test: N concurrent browser sessions against a `streamlit run` on 127.0.0.1 (bounded in count and time).

    python benchmarks/load.py --sessions 30 --page overview          # 30 simultaneous opens
    python benchmarks/load.py --sessions 10 --page lattice_lab --query "L=10"

Starts the server, opens the page once to warm it (imports, caches), then opens ``--sessions`` headless-chromium pages at once (one browser, one context
each, Playwright's sync API driven from one thread per session), waits for each page's script run to
finish (``data-test-script-state``) and reports completion-time percentiles, the latency of
``/_stcore/health`` polled every 0.1 s during the scenario, and the peak RSS of the server process tree.
Everything is bounded: at most 60 sessions and ``--timeout`` seconds per scenario.
Goals (issue 15): health p95 <= 0.5 s and max <= 1 s; 30 Overview opens all complete in <= 5 s.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium")) if p and os.path.exists(p)), None)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _tree_rss(pid: int) -> int:
    """RSS in bytes of ``pid`` and its descendants (job-pool workers included)."""
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        try:
            with open(f"/proc/{p}/statm") as f:
                total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
            with open(f"/proc/{p}/task/{p}/children") as f:
                todo += [int(c) for c in f.read().split()]
        except (OSError, ValueError):
            pass
    return total


def pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q / 100 * (len(xs) - 1))))] if xs else float("nan")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sessions", type=int, default=30)
    ap.add_argument("--page", default="overview", help="page path under app_pages/ (overview: the start page)")
    ap.add_argument("--query", default="", help="query string, e.g. L=10&system=double_exchange")
    ap.add_argument("--timeout", type=float, default=120.0, help="seconds for the whole scenario")
    a = ap.parse_args()
    if not 1 <= a.sessions <= 60:
        print("error: --sessions must be in 1..60", file=sys.stderr)
        return 2
    if CHROMIUM is None:
        print("error: no chromium found (/usr/bin/chromium)", file=sys.stderr)
        return 2
    from playwright.sync_api import sync_playwright

    port = _port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    health, peak, stop = [], [0], threading.Event()
    try:
        t0 = time.time()
        while True:
            try:
                urllib.request.urlopen(f"{url}/_stcore/health", timeout=2).close()
                break
            except OSError:
                if time.time() - t0 > 60:
                    raise SystemExit("server did not start")
                time.sleep(0.3)

        def poll():
            while not stop.is_set():
                t = time.perf_counter()
                try:
                    urllib.request.urlopen(f"{url}/_stcore/health", timeout=10).close()
                    health.append(time.perf_counter() - t)
                except OSError:
                    health.append(10.0)
                peak[0] = max(peak[0], _tree_rss(proc.pid))
                time.sleep(0.1)

        path = "" if a.page == "overview" else a.page
        target = f"{url}/{path}" + (f"?{a.query}" if a.query else "")
        times, errors = [], []
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
            warm = browser.new_context().new_page()  # first run imports the library: not part of the scenario
            warm.goto(target)
            warm.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=120000)
            warm.context.close()
            pages = [browser.new_context().new_page() for _ in range(a.sessions)]
            threading.Thread(target=poll, daemon=True).start()
            start = time.perf_counter()
            for p in pages:  # all navigations in flight at once (no wait)
                p.goto(target, wait_until="commit")
            pending = set(range(len(pages)))
            done_at = {}
            while pending and time.perf_counter() - start < a.timeout:
                for i in list(pending):
                    try:
                        st = pages[i].get_attribute("[data-testid='stApp']", "data-test-script-state", timeout=100)
                    except Exception:  # noqa: BLE001 - not rendered yet
                        continue
                    if st == "notRunning":
                        done_at[i] = time.perf_counter() - start
                        pending.discard(i)
                        if pages[i].locator("[data-testid='stException']").count():
                            errors.append(i)
                time.sleep(0.05)
            times = sorted(done_at.values())
            stop.set()
            browser.close()
        print(f"scenario: {a.sessions} sessions open /{path}{'?' + a.query if a.query else ''} at once")
        print(f"completed {len(times)}/{a.sessions} within {a.timeout:.0f} s; exceptions on {len(errors)} pages")
        if times:
            print(f"completion s: p50 {pct(times, 50):.2f}  p95 {pct(times, 95):.2f}  max {times[-1]:.2f}")
        print(f"/_stcore/health s ({len(health)} polls): p50 {pct(health, 50):.3f}  p95 {pct(health, 95):.3f}  "
              f"max {max(health, default=float('nan')):.3f}")
        print(f"peak RSS of the server process tree: {peak[0] / 2**20:.0f} MiB")
    finally:
        stop.set()
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
