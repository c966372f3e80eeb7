"""Session state, set up once per session, and the sign-in box every page shares."""

from __future__ import annotations

from typing import Any

import streamlit as st

from ui.client import DEMO_TOKENS, ApiError, TowerClient, api_url, demo_mode

DEFAULTS: dict[str, Any] = {
    "auth": None,  # {"token", "base_url", "name", "role", "can_decide"} once signed in; the token is never shown
    "flash": [],  # (kind, message) shown once at the top of the next page drawn
    "exception_id": "",  # the exception the Exception page shows
    "order_id": "",  # the order the Orders page shows
    "outcomes": {},  # approvals item id -> the Outcome of the last decision on it, drawn on its card
}


def init_state() -> None:
    for key, value in DEFAULTS.items():
        if key not in st.session_state:
            st.session_state[key] = type(value)(value) if isinstance(value, list | dict) else value


def sign_in(token: str) -> str | None:
    """Check the token against the API and remember it; returns an error message or None."""
    token = token.strip()
    if not token:
        return "enter a token"
    client = TowerClient(token, api_url())
    try:
        client.check()
        me = client.me()
    except ApiError as err:
        return "unknown token" if err.status == 401 else err.message
    st.session_state.auth = {"token": token, "base_url": client.base_url, "name": me["name"], "role": me["role"],
                             "can_decide": bool(me["may_decide"])}
    st.session_state.client = client
    return None


def sign_out() -> None:
    st.session_state.auth = None
    st.session_state.pop("client", None)


def sign_in_box() -> None:
    with st.sidebar:
        auth = st.session_state.auth
        if auth is None:
            st.subheader("Sign in")
            st.text_input("API token", key="token_input", type="password",
                          help="Demo tokens: " + ", ".join(DEMO_TOKENS) if demo_mode() else None)
            if st.button("Sign in", key="sign_in", type="primary"):
                error = sign_in(st.session_state.get("token_input", ""))
                if error:
                    st.error(error)
                else:
                    st.rerun()
            st.caption(f"API: {api_url()}")
            return
        may = "may decide" if auth["can_decide"] else "read only"
        st.text(f"Signed in as {auth['name']} · role {auth['role']}, {may}")
        st.caption(f"API: {auth['base_url']}")
        if st.button("Sign out", key="sign_out"):
            sign_out()
            st.rerun()


def client() -> TowerClient | None:
    auth = st.session_state.auth
    if auth is None:
        return None
    existing = st.session_state.get("client")
    if existing is None or existing.token != auth["token"]:
        existing = st.session_state.client = TowerClient(auth["token"], auth["base_url"])
    return existing  # type: ignore[no-any-return]


def require_client() -> TowerClient:
    """The signed-in client, or stop the page with a hint to sign in."""
    c = client()
    if c is None:
        st.info("Sign in with an API token in the sidebar to see the control tower.")
        st.stop()
    return c  # type: ignore[return-value]


def can_decide() -> bool:
    auth = st.session_state.auth
    return bool(auth and auth["can_decide"])


def flash(kind: str, message: str) -> None:
    st.session_state.flash.append((kind, message))


def show_flash() -> None:
    shown = {"success": st.success, "info": st.info, "warning": st.warning, "error": st.error}
    for kind, message in st.session_state.flash:
        shown.get(kind, st.info)(message)
    st.session_state.flash = []


def api_call(fn: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the API; on failure show why and stop the page."""
    try:
        return fn(*args, **kwargs)
    except ApiError as err:
        if err.status == 401:
            sign_out()
        st.error(err.message)
        st.stop()
