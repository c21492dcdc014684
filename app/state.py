"""Page state that lives in the URL: every control of a page, so a link opened in a fresh browser
shows the same screen; ``?present=1`` (presentation mode: larger text, ``hide=key1,key2`` hides
those controls).

A control is declared once with its default and a parser; ``control(key, widget, ...)`` draws the
widget (unless hidden) with the value taken, on entering the page, from the URL, else from what
this session last had, else the default.  ``sync_url()`` at the end of a page writes every value
that differs from its default.  URL text is untrusted: messages about it are escaped (``say``).
"""

from __future__ import annotations

import html
import math
from typing import Any, Callable

import streamlit as st

KEPT = "_kept"          # session_state: key -> last value, survives page switches
DECLARED = "_declared"  # session_state: key -> default, for this run's page
GLOBAL = ("present", "hide", "lesson")


def _kept() -> dict:
    return st.session_state.setdefault(KEPT, {})


def present() -> bool:
    return st.query_params.get("present") == "1"


def hidden(key: str) -> bool:
    return present() and key in set(st.query_params.get("hide", "").split(","))


PUNCTUATION = set("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~")


def plain(text) -> str:
    """``text`` with every ASCII punctuation backslash-escaped, so Markdown shows it literally: no link,
    image, HTML or autolinked URL can come from an untrusted value (URL parameters, file names)."""
    return "".join("\\" + c if c in PUNCTUATION else c for c in str(text))


def say(kind: str, text: str) -> None:
    """A message that may quote untrusted text (URL values, file names): never read as Markdown/HTML."""
    getattr(st, kind)(plain(text))


def parse_int(lo: int, hi: int) -> Callable[[str], int]:
    def p(s: str) -> int:
        try:
            v = int(s)
        except ValueError:
            raise ValueError("is not an integer") from None
        if not lo <= v <= hi:
            raise ValueError(f"must be in {lo}…{hi}")
        return v
    return p


def parse_float(lo: float, hi: float) -> Callable[[str], float]:
    def p(s: str) -> float:
        try:
            v = float(s)
        except ValueError:
            raise ValueError("is not a number") from None
        if not (math.isfinite(v) and lo <= v <= hi):
            raise ValueError(f"must be in {lo:g}…{hi:g}")
        return v
    return p


def parse_choice(options) -> Callable[[str], Any]:
    opts = list(options)

    def p(s: str):
        for o in opts:
            if str(o) == s:
                return o
        shown = ", ".join(map(str, opts[:8])) + (f", … ({len(opts)} in all)" if len(opts) > 8 else "")
        raise ValueError(f"must be one of {shown}")
    return p


def parse_list(options) -> Callable[[str], list]:
    one = parse_choice(options)
    return lambda s: [one(x) for x in s.split(",") if x != ""]


def parse_bool(s: str) -> bool:
    if s not in ("0", "1"):
        raise ValueError("must be 0 or 1")
    return s == "1"


def _fmt(v) -> str:
    if isinstance(v, bool):
        return "1" if v else "0"
    if isinstance(v, (list, tuple)):
        return ",".join(map(str, v))
    return str(v)


def page(name: str) -> None:
    """Name the page whose controls follow (their session keys are ``name.key``; URL keys stay short)."""
    st.session_state["_page"] = name
    st.session_state[DECLARED] = {}
    st.session_state["_msg_box"] = None


def skey(key: str) -> str:
    """The session_state (widget) key of URL key ``key`` on the current page."""
    return f"{st.session_state.get('_page', '')}.{key}"


def value(key: str, default, parse: Callable[[str], Any]):
    """The value of ``key`` on entering the page (URL, else this session's last, else ``default``),
    registered for ``sync_url``. Widgets with this key then start from it."""
    ss, k = st.session_state, skey(key)
    ss.setdefault(DECLARED, {})[key] = (k, default)
    if k not in ss:
        raw = st.query_params.get(key)
        v = _kept().get(k, default)
        try:
            v = parse(_fmt(v)) if not isinstance(v, list) or v else v
        except (ValueError, TypeError):
            v = default
        if raw is not None:
            try:
                v = parse(raw)
            except (ValueError, TypeError) as err:
                msg = f"URL parameter {key}={raw[:60]} {err}; using {_fmt(v)[:60]}."
                box = ss.get("_msg_box")
                if box is not None:
                    with box:
                        say("warning", msg)
        ss[k] = v
    return ss[k]


def control(key: str, widget: Callable, label: str, default, parse: Callable[[str], Any], **kw):
    """Draw ``widget(label, key=page.key, **kw)`` (st.slider, st.selectbox, ... or a column's) backed by
    the URL; hidden in presentation mode when the URL's ``hide`` names ``key``."""
    value(key, default, parse)
    if not hidden(key):
        widget(label, key=skey(key), **kw)
    v = st.session_state[skey(key)]
    _kept()[skey(key)] = v
    return v


def tabs(key: str, labels: list[str]):
    """``st.tabs(labels)`` whose open tab is a URL-backed control; only the open tab's ``.open`` is True,
    so a page draws just that tab's content (the others cost nothing until chosen)."""
    value(key, labels[0], parse_choice(labels))
    out = st.tabs(labels, key=skey(key), on_change="rerun")
    _kept()[skey(key)] = st.session_state[skey(key)]
    return out


def keep(key: str, v) -> None:
    """Set a value (e.g. the lattice's edits, or a control's from a callback) for the URL and later visits."""
    st.session_state[skey(key)] = v
    _kept()[skey(key)] = v


def url_messages() -> None:
    """Where messages about bad URL values appear (the top of the page)."""
    st.session_state["_msg_box"] = st.container()


def sync_url() -> None:
    """Write every declared value that differs from its default to the URL (others removed)."""
    ss, qp = st.session_state, st.query_params
    want = {k: qp[k] for k in GLOBAL if k in qp}
    for key, (k, default) in ss.pop(DECLARED, {}).items():
        v = ss.get(k, default)
        if _fmt(v) != _fmt(default):
            want[key] = _fmt(v)
    if dict(qp.to_dict()) != want:
        qp.from_dict(want)



def header(title: str, what: str, *, name: str) -> None:
    """Page ``name``'s title plus one or two sentences saying what the user is looking at (trusted text)."""
    page(name)
    style()
    st.title(title)
    st.markdown(f"<div class='efnn-lead'>{what}</div>", unsafe_allow_html=True)
    url_messages()


def style() -> None:
    big = "html {font-size: 20px;} h1 {font-size: 2.6rem !important;}" if present() else ""
    st.markdown(
        f"""<style>
        .efnn-lead {{font-size: 1.05rem; color: rgba(49,51,63,0.78); margin: -0.4rem 0 0.9rem 0;
                    border-left: 3px solid #d62728; padding-left: 0.7rem;}}
        div[data-testid="stMetricValue"] {{font-size: 1.55rem;}}
        .st-key-lab_energies th, .st-key-lab_energies td {{padding: 0.25rem 0.45rem !important; font-size: 0.8rem;}}
        .st-key-lab_energies td, .st-key-lab_energies td * {{white-space: nowrap !important;}}
        .st-key-ov_numbers table {{width: 100%;}}
        .st-key-ov_numbers th {{font-weight: 400; font-size: 0.9rem;}}
        .st-key-ov_numbers td {{font-size: 1.55rem;}}
        .st-key-ov_numbers th, .st-key-ov_numbers td {{text-align: center !important;}}
        {big}
        </style>""",
        unsafe_allow_html=True,
    )


def escape(text: str) -> str:
    return html.escape(str(text))


def table(df, where=None, *, index: bool = True) -> None:
    """``df`` drawn as a Markdown table in ``where`` (default: the page): the index (if ``index``) then every
    column, as one line of text escaped with ``plain`` (untrusted names show literally); the first column
    left-aligned, the others right.
    Unlike ``st.table`` it needs no lazily loaded frontend chunk (st.table's brings ~0.9 MB of Arrow code), so
    a fresh browser paints it as soon as it arrives, not after plotly's 4.6 MB chunk has been evaluated
    (which held st.table's first paint for 1-1.5 s; tests/test_browser.py times it). ``read_table`` reads it."""
    frame = df.reset_index() if index else df

    def cell(v) -> str:  # one line of escaped text (a line break would end the table row)
        return "" if v is None or (isinstance(v, float) and math.isnan(v)) else plain(" ".join(str(v).split()))

    lines = ["| " + " | ".join(cell(c) for c in frame.columns) + " |",
             "|" + "|".join([":---"] + ["---:"] * (frame.shape[1] - 1)) + "|"]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    (where or st).markdown("\n".join(lines))


def read_table(text: str):
    """The cells of a Markdown table written by ``table`` as a DataFrame of strings (header = columns), or
    None when ``text`` is not one: the tests and benchmarks/stclient.py read the pages' tables with it."""
    import pandas as pd

    lines = str(text).strip().splitlines()
    if len(lines) < 2 or not lines[0].startswith("|") or not set(lines[1]) <= set("|:- "):
        return None

    def cells(line: str) -> list[str]:
        out, cur, chars = [], [], iter(line.strip()[1:])
        for c in chars:
            if c == "\\":
                cur.append(next(chars, ""))
            elif c == "|":
                out.append("".join(cur).strip())
                cur = []
            else:
                cur.append(c)
        return out

    return pd.DataFrame([cells(line) for line in lines[2:]], columns=cells(lines[0]))
