"""No orphan work, live: a real `streamlit run` on 127.0.0.1 and a real browser (Debian's chromium via
Playwright).  A session that asks for an L = 40 exact energy gets a worker process in the job pool; when
that session ends (a reload, then a closed page) its worker is gone within ``EFNN_SESSION_GRACE_S`` (3 s
here) plus the session watch's period (2 s) and a margin, long before the ~40 s solve would have ended."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from benchmarks.load import Server
from tests.test_browser import CHROMIUM, wait_for

psutil = pytest.importorskip("psutil")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
pytestmark = [pytest.mark.browser, pytest.mark.skipif(CHROMIUM is None, reason="no chromium found")]

ROOT = Path(__file__).resolve().parents[1]
GRACE = 3.0


@pytest.fixture
def server(tmp_path):
    srv = Server(tmp_path / "server.log", env={"EFNN_SESSION_GRACE_S": str(GRACE), "EFNN_WORKERS": "2"})
    try:
        srv.wait_healthy(60)
        yield srv.url, srv.proc.pid
    finally:
        srv.stop()  # its process group: the pool's forkserver and workers of this test's server too


def workers(server_pid: int) -> set[int]:
    """Pids of the job pool's worker processes: the children of the server's forkserver."""
    out = set()
    for child in psutil.Process(server_pid).children():
        try:
            if "forkserver" in " ".join(child.cmdline()):
                out |= {p.pid for p in child.children()}
        except psutil.NoSuchProcess:
            pass
    return out


def test_reloading_or_closing_the_page_ends_its_pool_work(server):
    """Run in a thread of its own: Playwright's sync API refuses a thread with a running event loop, which
    pytest-playwright leaves in the main thread once a browser test has run."""
    out = {}

    def body():
        try:
            _reload_then_close(*server)
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = err
    t = threading.Thread(target=body)
    t.start()
    t.join(240)
    assert not t.is_alive(), "the browser session did not finish within 240 s"
    if "error" in out:
        raise out["error"]


def _reload_then_close(url, pid):
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True,
                                     args=["--headless", "--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page()
            page.goto(f"{url}/lattice_lab?L=40")
            page.get_by_text("running ", exact=False).first.wait_for(timeout=60_000)  # the solve's worker is up
            first = wait_for(lambda: workers(pid), 10, 0.2, "a worker process for the L = 40 exact solve")
            page.reload()  # a new session; the old one's solve must end
            t0 = time.time()
            wait_for(lambda: not (first & workers(pid)), GRACE + 8, 0.2, "the reloaded session's worker to end")
            print(f"reload: old worker gone after {time.time() - t0:.1f} s")
            # a new session on another configuration (the reloaded one may share the old session's job until
            # that is cancelled); its own solve's worker must end when the page is closed
            page.goto(f"{url}/lattice_lab?L=40&seed=5")
            page.get_by_text("running ", exact=False).first.wait_for(timeout=60_000)
            second = wait_for(lambda: workers(pid) - first, 20, 0.2, "the new page's own solve")
            page.close()
            t0 = time.time()
            wait_for(lambda: not (second & workers(pid)), GRACE + 8, 0.2, "the closed page's worker to end")
            print(f"close: worker gone after {time.time() - t0:.1f} s")
        finally:
            browser.close()
