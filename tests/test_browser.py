"""The explorer in a real browser: Playwright drives Debian's chromium against `streamlit run`.

Visits every page (no error element anywhere, a screenshot of each saved to
$EFNN_SCREENSHOTS/<page>.png, default a temp folder), clicks a lattice site and sees the exact energy
change, and starts a short training run and sees the live curve grow.

Playwright cannot download its own browser here, so these tests use the system
chromium (/usr/bin/chromium, or `chromium` on PATH) and skip with a clear reason
when none is found.  Run them with `python -m pytest -m browser tests/test_browser.py`.
"""

from __future__ import annotations

import os
import tempfile
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
# Screenshots go to a temporary folder so a test run leaves the checkout clean; the README's
# pictures are refreshed with EFNN_SCREENSHOTS=docs/screenshots python -m pytest -m browser.
SHOTS = Path(os.environ.get("EFNN_SCREENSHOTS") or Path(tempfile.gettempdir()) / "efnn_screenshots").resolve()
CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
                 if p and os.path.exists(p)), None)
PAGES = ["overview", "lattice_lab", "train", "generalization", "architecture"]
if (ROOT / "app" / "app_pages" / "field_theory.py").exists():
    PAGES.append("field_theory")

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium found (/usr/bin/chromium or `chromium` on PATH); "
                                                "install Debian's chromium package to run the browser tests"),
]
pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install pytest-playwright)")
pytest.importorskip("pytest_playwright", reason="pytest-playwright is not installed (pip install pytest-playwright)")

ERRORS = "[data-testid='stException'], [data-testid='stAlertContentError']"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "headless": True,
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync"]}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`streamlit run` on a free loopback port, until the health endpoint answers."""
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([sys.executable, "-m", "streamlit", "run", "app/streamlit_app.py", "--server.headless",
                             "true", "--server.port", str(port), "--server.address", "127.0.0.1",
                             "--browser.gatherUsageStats", "false"], cwd=ROOT, env=env, stdout=log,
                            stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        t0 = time.time()
        while True:
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if proc.poll() is not None or time.time() - t0 > 60:
                pytest.fail(f"streamlit did not start on {url} (exit code {proc.poll()}); log: {log_path}")
            time.sleep(0.3)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def settle(page, timeout: float = 90.0) -> None:
    """Wait until the script run triggered by the last action has finished."""
    page.wait_for_selector("[data-testid='stApp']")
    time.sleep(0.5)
    t0 = time.time()
    while time.time() - t0 < timeout:
        state = page.get_attribute("[data-testid='stApp']", "data-test-script-state")
        if state not in ("running", "initial", None):
            return
        time.sleep(0.2)
    raise AssertionError(f"the page was still running after {timeout} s")


def no_errors(page) -> None:
    errs = page.locator(ERRORS)
    assert errs.count() == 0, [errs.nth(i).inner_text()[:300] for i in range(errs.count())]
    assert page.get_by_text("Page not found").count() == 0, "Streamlit says the page does not exist"


def screenshot(page, name: str) -> None:
    """Full-height screenshot (Streamlit scrolls inside stMain, so grow the viewport first)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    h = page.evaluate("() => { const m = document.querySelector('[data-testid=stMain]');"
                      " return Math.max(m ? m.scrollHeight : 0, document.body.scrollHeight); }")
    page.set_viewport_size({"width": 1400, "height": min(int(h) + 40, 5000)})
    time.sleep(1.0)  # plotly re-lays out to the new size
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    page.set_viewport_size({"width": 1400, "height": 1000})


def ed_value(page) -> str:
    return page.locator("[data-testid='stMetric']").filter(has_text="Exact diagonalization") \
        .locator("[data-testid='stMetricValue']").inner_text()


@pytest.mark.parametrize("name", PAGES)
def test_every_page_renders_without_errors(server, page, name):
    page.goto(f"{server}/{'' if name == 'overview' else name}")  # the default page lives at /
    settle(page)
    page.wait_for_selector("h1")
    if name not in ("train", "field_theory"):
        page.wait_for_selector(".js-plotly-plot", timeout=30000)
    time.sleep(1.0)
    no_errors(page)
    screenshot(page, name)


def test_clicking_a_site_changes_the_ed_energy(server, page):
    page.goto(f"{server}/lattice_lab?system=double_exchange&L=10&preset=ferromagnet&seed=0")
    settle(page)
    before = ed_value(page)
    float(before)  # a number is shown
    page.locator("[data-testid='stRadio']").get_by_text("Flip").click()
    settle(page)
    # the first scatter trace holds one marker per site; click a site in the middle
    point = page.locator(".js-plotly-plot .scatterlayer .trace").first.locator("path.point").nth(44)
    box = point.bounding_box()
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.click(x, y)
    t0 = time.time()
    while ed_value(page) == before and time.time() - t0 < 20:
        time.sleep(0.2)
    settle(page)
    after = ed_value(page)
    assert after != before, "clicking a site must change the exact energy"
    assert "lattice_lab" in page.url and "L=10" in page.url
    no_errors(page)


def _curve_points(page) -> int:
    """Points of the first trace of the loss chart (the first plotly chart of the live section)."""
    return page.evaluate("""() => {
        for (const el of document.querySelectorAll('.js-plotly-plot')) {
            const t = (el.layout && el.layout.title && (el.layout.title.text || el.layout.title)) || '';
            if (String(t).includes('Loss') && el.data && el.data.length) return el.data[0].x.length;
        }
        return 0; }""")


def test_short_training_run_grows_the_live_curve(server, page):
    page.goto(f"{server}/train")
    settle(page)
    # one small EFNN: remove the DNN chip; C = 2, n = 1, 1000 configurations, many short epochs
    page.locator("button[aria-label='Remove DNN']:visible").first.click()
    settle(page)
    for label, right in (("channels C", 1), ("layers n", 0), ("training set", 3)):
        page.locator(f"input[type='range'][aria-label='{label}']").first.focus()
        page.keyboard.press("Home")
        for _ in range(right):
            page.keyboard.press("ArrowRight")
        settle(page)
    epochs = page.locator("input[aria-label='epochs']").first
    epochs.fill("3000")
    epochs.press("Enter")
    settle(page)
    page.get_by_role("button", name="Start training").click()
    t0 = time.time()
    first = 0
    while time.time() - t0 < 60 and first < 2:
        time.sleep(0.5)
        first = _curve_points(page)
    assert first >= 2, "the live loss curve never appeared"
    t1 = time.time()
    later = first
    while time.time() - t1 < 30 and later <= first:
        time.sleep(0.5)
        later = _curve_points(page)
    assert later > first, f"the live curve did not grow ({first} -> {later} points)"
    no_errors(page)
    while time.time() - t0 < 20:  # let it learn a little more, for a meaningful screenshot
        time.sleep(0.5)
    page.get_by_role("button", name="Stop").click()
    page.wait_for_selector("text=Predicted vs exact", timeout=60000)
    settle(page)
    no_errors(page)
    screenshot(page, "train")
    # the session's model is now on the other pages (same browser session: navigate with the sidebar)
    for link, name in (("Lattice lab", "lattice_lab"), ("Generalization", "generalization")):
        page.get_by_role("link", name=link).first.click()
        settle(page)
        page.wait_for_selector("h1")
        time.sleep(1.0)
        no_errors(page)
        assert page.get_by_text("efnn-C2-n1", exact=False).count() > 0, f"the trained model is missing on {name}"
        screenshot(page, name)
