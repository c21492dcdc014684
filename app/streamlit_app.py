"""EFNN Explorer: `streamlit run app/streamlit_app.py`. Router only; pages live in app_pages/."""
import os
import sys
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # before numpy loads: small ED matrices, busy cores

import streamlit as st

HERE = Path(__file__).resolve().parent
sys.path[:0] = [p for p in (str(HERE.parent),) if p not in sys.path]  # repo root: efnn_core, app._*

st.set_page_config(page_title="EFNN Explorer", page_icon=":material/grid_on:", layout="wide")
pages = [st.Page(HERE / "app_pages/overview.py", title="Overview: Ising as an EFNN", icon=":material/grid_on:", default=True),
         st.Page(HERE / "app_pages/lattice_lab.py", title="Lattice lab", icon=":material/draw:"),
         st.Page(HERE / "app_pages/train.py", title="Train", icon=":material/model_training:"),
         st.Page(HERE / "app_pages/generalization.py", title="Generalization", icon=":material/trending_down:"),
         st.Page(HERE / "app_pages/architecture.py", title="Architecture", icon=":material/account_tree:")]
if (HERE / "app_pages/field_theory.py").exists():
    pages.append(st.Page(HERE / "app_pages/field_theory.py", title="Field theory on neurons", icon=":material/blur_on:"))
pages.append(st.Page(HERE / "app_pages/monte_carlo.py", title="Monte Carlo", icon=":material/casino:"))
pages.append(st.Page(HERE / "app_pages/methods.py", title="Methods: accuracy vs time", icon=":material/speed:"))
pages.append(st.Page(HERE / "app_pages/sweeps.py", title="Sweeps: error vs size and time", icon=":material/scatter_plot:"))
st.navigation(pages).run()
