"""The control tower dashboard: `streamlit run ui/app.py` (or `tower up`). One entrypoint, pages by st.navigation."""

from __future__ import annotations

import streamlit as st

from ui.state import init_state, sign_in_box

st.set_page_config(page_title="Exception Control Tower", page_icon="🗼", layout="wide")
init_state()

PAGES = [
    st.Page("screens/overview.py", title="Overview", icon="📊", url_path="overview", default=True),
    st.Page("screens/approvals.py", title="Approvals", icon="✅", url_path="approvals"),
    st.Page("screens/exception.py", title="Exception", icon="🧾", url_path="exception"),
    st.Page("screens/orders.py", title="Orders", icon="📦", url_path="orders"),
    st.Page("screens/policy.py", title="Policy", icon="📘", url_path="policy"),
    st.Page("screens/simulator.py", title="Simulator", icon="🧪", url_path="simulator"),
    st.Page("screens/evals.py", title="Evals", icon="🎯", url_path="evals"),
]

page = st.navigation(PAGES)
sign_in_box()
page.run()
