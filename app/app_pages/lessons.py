"""Lessons: a guided path through the explorer, each step a deep link with one thing to try."""
from pathlib import Path

import streamlit as st

from app import lessons, state

state.header("Lessons", "A guided path for a class: each step opens the right page with the right settings, says "
                        "what it shows and gives one thing to try.", name="lessons")
steps = lessons.available(Path(__file__).resolve().parent)
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
