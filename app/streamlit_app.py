"""EFNN Explorer: `streamlit run app/streamlit_app.py`. Router only; pages live in app_pages/."""
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: small ED matrices, busy cores
import streamlit as st  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(HERE.parent),) if p not in sys.path]  # repo root: efnn_core, app
from app import jobs, serving  # noqa: E402

jobs.get_pool()  # the server's job pool; its first call starts the worker processes' forkserver in the background
present = st.query_params.get("present") == "1"
st.set_page_config(page_title="EFNN Explorer", page_icon=":material/grid_on:", layout="wide",
                   initial_sidebar_state="collapsed" if present else "auto")
P = [("overview", "Overview: Ising as an EFNN", ":material/grid_on:"), ("lessons", "Lessons", ":material/school:"),
     ("lattice_lab", "Lattice lab", ":material/draw:"), ("train", "Train", ":material/model_training:"),
     ("generalization", "Generalization", ":material/trending_down:"),
     ("architecture", "Architecture", ":material/account_tree:"),
     ("field_theory", "Field theory on neurons", ":material/blur_on:"), ("monte_carlo", "Monte Carlo", ":material/casino:"),
     ("methods", "Methods: accuracy vs time", ":material/speed:"),
     ("sweeps", "Sweeps: error vs size and time", ":material/scatter_plot:")]
pages = [st.Page(HERE / f"app_pages/{f}.py", title=t, icon=i, default=f == "overview") for f, t, i in P]
page = st.navigation(pages)
with serving.RUNS:  # a bounded number of page runs at once (app/serving.py)
    page.run()
serving.freeze_after_first_run(page.url_path)  # what the page loaded stays: out of later full GCs (app/serving.py)
