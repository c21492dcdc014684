"""Lessons: a guided path through the explorer, each step a deep link with one thing to try."""
from pathlib import Path

import streamlit as st

from app import state

STEPS = [
    ("Ising as an EFNN", "", "",
     "The Ising energy is a sum over pairs, yet it can be rewritten as a sum of independent quasi-particles sᵢφᵢ in an "
     "effective field φᵢ. The hand-built one-layer EFNN computes exactly that.",
     "Flip one spin in the middle of the ferromagnet: which four quasi-particles change, and by how much?",
     "preset=ferromagnet&seed=0"),
    ("The double exchange lattice", "lattice_lab", "",
     "Electrons hopping on a lattice of classical spins: the exact energy needs a full diagonalization, which grows "
     "like L⁶. Trained networks give it in a fraction of a millisecond.",
     "Draw a domain wall, then rotate all spins: the exact energy stays, and so do the EFNN's.",
     "system=double_exchange&preset=domain_wall"),
    ("Train and compare", "train", "",
     "Train an EFNN and a DNN side by side on the same data. Step one batch at a time to watch the first moves, "
     "then play.",
     "Which reaches a relative error of 3×10⁻³ first on the seconds axis?", "archs=efnn,dnn&epochs=30&axis=seconds"),
    ("Look inside", "lattice_lab", "",
     "An EFNN's layers are effective fields Fⱼ and quasi-particles Sⱼ; its site energies add up to E. Ordered "
     "textures leave visible structure in these maps.",
     "Choose the skyrmion preset and compare the site-energy map of the core with the background.",
     "system=double_exchange&preset=skyrmion&L=16"),
    ("Generalize to 40×40", "generalization", "",
     "Networks trained on 10×10 lattices are evaluated on 40×40 without retraining. The relative error of the total "
     "falls like 1/L even at fixed local accuracy.",
     "Compare the left and right panels: which curve is flat, and why?", ""),
    ("Monte Carlo with the network", "monte_carlo", "monte_carlo.py",
     "A trained network replaces exact diagonalization inside a Monte Carlo chain, which makes large lattices "
     "affordable.", "Run a short chain and compare its energy trace with the exact one.", ""),
]

state.header("Lessons", "A guided path for a class: each step opens the right page with the right settings, says "
                        "what it shows and gives one thing to try.", name="lessons")
here = Path(__file__).resolve().parent
steps = [s for s in STEPS if not s[2] or (here / s[2]).exists()]
k = state.control("step", st.radio, "Step", 1, state.parse_int(1, len(steps)), options=list(range(1, len(steps) + 1)),
                  horizontal=True, format_func=lambda i: f"{i}. {steps[i - 1][0]}")
title, page, _, text, task, query = steps[k - 1]
with st.container(border=True):
    st.subheader(f"Step {k}: {title}")
    st.markdown(text)
    st.markdown(f"**Try this:** {task}")
    link = f"/{page}" + (f"?{query}" if query else "")
    st.link_button(f"Open step {k}", link, type="primary")
    st.caption(f"Deep link: {link}")
st.markdown("**All steps:** " + " · ".join(f"[{i}. {s[0]}](/{s[1]}{'?' + s[5] if s[5] else ''})"
                                           for i, s in enumerate(steps, 1)))
state.sync_url()
