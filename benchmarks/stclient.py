"""A light Streamlit client: one browser session over the raw websocket protocol, no browser.

What the Streamlit frontend does, reduced to what a load test needs (protocol of streamlit 1.67,
``streamlit/web/server/starlette/starlette_websocket.py``):

* connect to ``ws://HOST:PORT/_stcore/stream`` (subprotocol ``streamlit``; no Origin header, so no XSRF
  token is needed) and send a ``BackMsg.rerun_script`` (a ``ClientState``: the query string, the page's
  URL name, the widget states);
* the server answers with ``ForwardMsg`` s: ``new_session`` (a run starts), ``navigation`` (the page
  ``st.navigation`` ran: later requests name its hash), ``delta`` s (the elements),
  ``page_info_changed`` (the script rewrote the query string: later reruns send the new one, as the
  browser's URL would), ``auto_rerun`` (a fragment with ``run_every``: this client then reruns that
  fragment every ``interval`` seconds while the session is idle, as the frontend's timer does) and
  ``script_finished``.

A :class:`Run` is everything one rerun request produced up to its ``script_finished``: the elements'
texts, the errors (an ``Exception`` element or ``st.error``), and the wall time from request to finish.
Widget ids come from the deltas (``Session.widget_id("tr_play")`` finds the button keyed ``tr_play``),
so a button press is ``session.rerun(widgets=[trigger(id)])``.

    async with Session.open("http://127.0.0.1:8501") as s:
        run = await s.rerun(page="lattice_lab", query="L=10")
        print(run.seconds, run.errors, run.metric("Exact energy"))
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from dataclasses import dataclass, field

import websockets
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

from app import state  # its read_table reads the pages' Markdown tables

#: element kinds whose string fields are collected as the run's visible text
TEXT_KINDS = ("markdown", "alert", "metric", "progress", "heading", "text", "exception", "toast", "code")
DONE = {ForwardMsg.FINISHED_SUCCESSFULLY: "ok", ForwardMsg.FINISHED_WITH_COMPILE_ERROR: "compile error"}


@dataclass
class Run:
    """What one rerun request produced (a full run, or one fragment's run)."""

    fragment: str = ""
    started: float = field(default_factory=time.perf_counter)
    seconds: float | None = None       # request -> script_finished; None while unfinished
    status: str | None = None          # "ok", "compile error", "fragment ok"
    texts: list[tuple[str, str]] = field(default_factory=list)   # (kind, text) of every text element
    metrics: dict[str, str] = field(default_factory=dict)        # metric label -> value (st.metric, and the
    #                                        header -> cell of a one-row Markdown table: app.state.table)
    errors: list[str] = field(default_factory=list)              # Exception elements and st.error bodies
    claimed: str | None = None         # id of the script run serving this request

    def metric(self, label: str) -> str | None:
        return self.metrics.get(label)

    def text(self) -> str:
        return "\n".join(t for _, t in self.texts)


def trigger(widget_id: str) -> WidgetState:
    """The widget state of a button press."""
    return WidgetState(id=widget_id, trigger_value=True)


def int_value(widget_id: str, v: int) -> WidgetState:
    return WidgetState(id=widget_id, int_value=int(v))


class Session:
    """One simulated browser session (see the module docstring)."""

    def __init__(self, url: str):
        self.ws_url = url.replace("http://", "ws://").rstrip("/") + "/_stcore/stream"
        self.ws = None
        self.query = ""
        self.page = ""
        self.page_hash = ""                 # the page st.navigation ran last, sent back as a browser does
        self.widgets: dict[str, tuple[str, object]] = {}    # widget id -> (kind, element proto)
        self.running = False
        self.closed = False
        self.messages = 0
        self.metrics: dict[str, str] = {}   # metric label -> the latest value shown (any run)
        self.seen: list[str] = []           # every text element shown, in order (any run)
        self.errors: list[str] = []         # every error shown (any run)
        self._runs: list[Run] = []          # requests waiting for their script_finished, oldest first
        self._current: list[Run] = []       # the requests served by the run producing deltas now
        self._timers: dict[str, asyncio.Task] = {}
        self._reader: asyncio.Task | None = None
        self._finished = asyncio.Event()

    @classmethod
    @contextlib.asynccontextmanager
    async def open(cls, url: str, timeout: float = 30.0):
        s = cls(url)
        await s.connect(timeout)
        try:
            yield s
        finally:
            await s.close()

    async def connect(self, timeout: float = 30.0) -> None:
        self.ws = await asyncio.wait_for(websockets.connect(self.ws_url, subprotocols=["streamlit"], max_size=None,
                                                            open_timeout=timeout), timeout)
        self._reader = asyncio.create_task(self._read())

    async def close(self) -> None:
        self.closed = True
        for t in self._timers.values():
            t.cancel()
        if self.ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self.ws.close(), 5)
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(BaseException):
                await self._reader

    # ------------------------------------------------------------------ requests
    async def _send(self, *, widgets=(), fragment: str = "", auto: bool = False) -> None:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string, cs.page_name, cs.page_script_hash = self.query, self.page, self.page_hash
        cs.widget_states.widgets.extend(widgets)
        cs.fragment_id, cs.is_auto_rerun = fragment, auto
        cs.context_info.timezone, cs.context_info.locale = "UTC", "en-US"
        await self.ws.send(msg.SerializeToString())

    async def rerun(self, *, page: str | None = None, query: str | None = None, widgets=(), fragment: str = "",
                    timeout: float = 60.0) -> Run:
        """Request a run (``page``/``query`` as a browser opening ``/page?query``; default: where the session
        is) and wait until it has finished; an unfinished run comes back with ``status`` None."""
        if page is not None:
            self.page, self.page_hash = page, ""
        if query is not None:
            self.query = query
        run = Run(fragment=fragment)
        self._runs.append(run)
        await self._send(widgets=widgets, fragment=fragment)
        await self.wait(run, timeout)
        return run

    async def wait(self, run: Run, timeout: float) -> Run:
        end = time.perf_counter() + timeout
        while run.status is None and not self.closed and time.perf_counter() < end:
            self._finished.clear()
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._finished.wait(), max(0.0, end - time.perf_counter()))
        return run

    def widget_id(self, key: str) -> str | None:
        """The id of the widget created with ``key=key`` (Streamlit appends the user key to the id)."""
        for wid in self.widgets:
            if wid.endswith("-" + key):
                return wid
        return None

    # ------------------------------------------------------------------ server messages
    async def _read(self) -> None:
        try:
            async for data in self.ws:
                msg = ForwardMsg()
                msg.ParseFromString(data)
                self.messages += 1
                self._handle(msg)
        except websockets.ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._finished.set()

    def _handle(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.running = True
            frags = set(msg.metadata.run.fragment_ids)
            # the requests this run serves: a full run serves every pending one, a fragment run its fragment's
            self._current = [r for r in self._runs if r.claimed is None and (not frags or r.fragment in frags)]
            for r in self._current:
                r.claimed = msg.metadata.run.script_run_id
            if not frags:  # a full run re-registers its fragments: old timers go
                for t in self._timers.values():
                    t.cancel()
                self._timers.clear()
        elif kind == "delta":
            if msg.delta.WhichOneof("type") == "new_element":
                self._element(msg.delta.new_element)
        elif kind == "navigation":  # st.navigation resolved the page: later requests name it, as a browser does
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            fid, every = msg.auto_rerun.fragment_id, msg.auto_rerun.interval
            if fid not in self._timers:
                self._timers[fid] = asyncio.get_running_loop().create_task(self._tick(fid, every))
        elif kind == "stop_auto_rerun":
            for fid in msg.stop_auto_rerun.fragment_ids:
                t = self._timers.pop(fid, None)
                if t is not None:
                    t.cancel()
        elif kind == "script_finished":
            self.running = False
            status, rid = msg.script_finished, msg.metadata.run.script_run_id
            if status == ForwardMsg.FINISHED_EARLY_FOR_RERUN:  # its requests are served by the next run
                for r in self._current:
                    r.claimed = None
            else:
                for r in self._current:
                    if r.claimed == rid:
                        r.status = DONE.get(status, "fragment ok")
                        r.seconds = time.perf_counter() - r.started
                        self._runs.remove(r)
            self._current = []
            self._finished.set()
        elif kind == "session_event" and msg.session_event.HasField("script_compilation_exception"):
            exc = msg.session_event.script_compilation_exception
            self._error(f"{exc.type}: {exc.message}")

    def _error(self, text: str) -> None:
        self.errors.append(text)
        for r in self._current:
            r.errors.append(text)

    def _element(self, el) -> None:
        kind = el.WhichOneof("type")
        sub = getattr(el, kind) if kind else None
        if sub is not None and hasattr(sub, "id") and getattr(sub, "id", ""):
            self.widgets[sub.id] = (kind, sub)
        if kind not in TEXT_KINDS:
            return
        if kind == "exception":
            text = f"{sub.type}: {sub.message}"
            self._error(text)
        elif kind == "alert":
            text = sub.body
            if sub.format == sub.ERROR:
                self._error(text)
        elif kind == "metric":
            text = f"{sub.label}: {sub.body}"
            self.metrics[sub.label] = sub.body
            for r in self._current:
                r.metrics[sub.label] = sub.body
        elif kind == "progress":
            text = sub.text
        else:
            text = getattr(sub, "body", "")
            one_row = state.read_table(text) if kind == "markdown" else None
            if one_row is not None and len(one_row) == 1:
                for label, value in one_row.iloc[0].items():
                    self.metrics[label] = value
                    for r in self._current:
                        r.metrics[label] = value
        self.seen.append(text)
        for r in self._current:
            r.texts.append((kind, text))

    async def _tick(self, fragment: str, every: float) -> None:
        """The frontend's ``run_every`` timer: rerun the fragment while the session is idle."""
        while not self.closed:
            await asyncio.sleep(every)
            if not self.running and not self.closed:
                self._runs.append(Run(fragment=fragment))
                with contextlib.suppress(Exception):
                    await self._send(fragment=fragment, auto=True)
