"""The control tower dashboard: `streamlit run ui/app.py` (or `tower up`). One entrypoint, pages by st.navigation."""

from __future__ import annotations

import streamlit as st

from ui.state import init_state, sign_in_box

st.set_page_config(page_title="Exception Control Tower", page_icon=":material/cell_tower:", layout="wide")
init_state()

PAGES = [
    st.Page("screens/overview.py", title="Overview", icon=":material/dashboard:", url_path="overview", default=True),
    st.Page("screens/approvals.py", title="Approvals", icon=":material/task_alt:", url_path="approvals"),
    st.Page("screens/exception.py", title="Exception", icon=":material/timeline:", url_path="exception"),
    st.Page("screens/orders.py", title="Orders", icon=":material/inventory_2:", url_path="orders"),
    st.Page("screens/policy.py", title="Policy", icon=":material/menu_book:", url_path="policy"),
    st.Page("screens/simulator.py", title="Simulator", icon=":material/science:", url_path="simulator"),
    st.Page("screens/evals.py", title="Evals", icon=":material/target:", url_path="evals"),
]

page = st.navigation(PAGES)
sign_in_box()
page.run()
