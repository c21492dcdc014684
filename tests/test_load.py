"""The light Streamlit client of benchmarks/load.py (benchmarks/stclient.py) against a real `streamlit run`.

No timing thresholds here (those are benchmarks/load.py's output): these check that a raw-websocket
session sees what a browser would, so the load test's figures are about real page runs.
"""

from __future__ import annotations

import asyncio
import threading
import urllib.request

import pytest

from benchmarks.load import Server, http_get
from benchmarks.stclient import Session, int_value

pytest.importorskip("websockets")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    srv = Server(tmp_path_factory.mktemp("load") / "server.log")
    try:
        srv.wait_healthy()
        yield srv
    finally:
        srv.stop()
    assert srv.proc.poll() is not None, "the server is gone after the tests"


def run(coro, timeout=120):
    """Run ``coro`` on a fresh event loop in its own thread: pytest-playwright's sync API keeps an
    event loop running in this thread once a browser test has run."""
    out = {}

    def main():
        try:
            out["value"] = asyncio.run(asyncio.wait_for(coro, timeout))
        except BaseException as err:  # noqa: BLE001 - re-raised in the test's thread
            out["error"] = err
    t = threading.Thread(target=main)
    t.start()
    t.join(timeout + 10)
    if "error" in out:
        raise out["error"]
    return out["value"]


def test_three_concurrent_overview_sessions_complete_without_errors(server):
    async def one():
        assert await http_get(server.url) > 0
        async with Session.open(server.url) as s:
            r = await s.rerun(page="", query="", timeout=90)
            return r, s.widget_id("ov.seed")

    async def three():
        return await asyncio.gather(*(one() for _ in range(3)))

    out = run(three())
    for r, seed_id in out:
        assert r.status == "ok" and r.seconds > 0 and not r.errors
        # the Overview's three numbers: the hand-built EFNN reproduces the exact energy
        assert r.metric("EFNN output E") == r.metric("Exact H = −J Σ⟨ij⟩ sᵢsⱼ") is not None
        assert any(k == "alert" and "reproduces the exact energy" in t for k, t in r.texts)
        assert seed_id is not None, "widget ids come from the deltas"
    with urllib.request.urlopen(f"{server.url}/_stcore/health", timeout=10) as h:
        assert h.status == 200 and h.read().strip() == b"ok"


def test_a_widget_change_reruns_and_the_page_writes_it_to_the_url(server):
    async def go():
        async with Session.open(server.url) as s:
            first = await s.rerun(page="", query="", timeout=90)
            seed_id = s.widget_id("ov.seed")
            again = await s.rerun(widgets=[int_value(seed_id, 7)], timeout=90)
            return first, again, s.query

    first, again, query = run(go())
    assert first.status == again.status == "ok" and not again.errors
    assert "seed=7" in query.split("&"), query  # state.sync_url wrote the new seed (page_info_changed)
    assert again.metric("EFNN output E") == again.metric("Exact H = −J Σ⟨ij⟩ sᵢsⱼ")


def test_a_query_string_opens_a_page_with_that_state_and_a_bad_value_is_a_warning_not_an_error(server):
    async def go():
        async with Session.open(server.url) as s:
            ok = await s.rerun(page="", query="preset=ferromagnet&L=6", timeout=90)
        async with Session.open(server.url) as s:
            bad = await s.rerun(page="", query="L=999", timeout=90)
        return ok, bad

    ok, bad = run(go())
    assert ok.status == "ok" and ok.metric("Exact H = −J Σ⟨ij⟩ sᵢsⱼ") == "-72"  # 2 L² bonds, all satisfied
    assert bad.status == "ok" and not bad.errors
    assert any(k == "alert" and "L=999" in t.replace("\\", "") for k, t in bad.texts)


def test_each_page_freezes_what_it_loaded_once():
    import gc

    from app import serving

    before = gc.get_freeze_count()
    try:
        assert serving.freeze_after_first_run("test-page-a") is True
        assert gc.get_freeze_count() > before
        assert serving.freeze_after_first_run("test-page-a") is False  # the second run of a page: nothing
        assert serving.freeze_after_first_run("test-page-b") is True
    finally:
        gc.unfreeze()  # leave the test process as it was
