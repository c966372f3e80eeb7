"""Dashboard fixtures: a real API on a free port over a fresh SQLite file, and the app under AppTest."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest
from ui_helpers import LiveApi

from api.runtime import open_runtime
from api.settings import ServiceSettings
from api.testing import T0, seed_shop
from core.clock import VirtualClock

ENTRYPOINT = Path(__file__).resolve().parents[2] / "ui" / "app.py"


def _live(tmp_path: Path, *, shop: bool) -> Iterator[LiveApi]:
    settings = ServiceSettings(database_url=f"sqlite:///{tmp_path / 'ui.db'}", demo=True)
    rt = open_runtime(settings, clock=VirtualClock(T0))
    if shop:
        seed_shop(rt.engine)
    live = LiveApi(rt).start()
    try:
        yield live
    finally:
        live.stop()
        rt.close()


@pytest.fixture
def api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    """The API over the small shop of api.testing, the dashboard pointed at it."""
    for live in _live(tmp_path, shop=True):
        monkeypatch.setenv("TOWER_API_URL", live.url)
        yield live


@pytest.fixture
def empty_api(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LiveApi]:
    """The API over an empty store, as a simulator run finds it on a first start."""
    for live in _live(tmp_path, shop=False):
        monkeypatch.setenv("TOWER_API_URL", live.url)
        yield live


@pytest.fixture
def app() -> Callable[..., AppTest]:
    """The dashboard, signed in with a demo token (or not), on the page asked for."""
    def open_(page: str | None = None, token: str | None = "demo-supervisor") -> AppTest:
        at = AppTest.from_file(str(ENTRYPOINT), default_timeout=60)
        at.run()
        if token is not None:
            at.text_input(key="token_input").input(token)
            at.button(key="sign_in").click()
            at.run()
        if page is not None:
            at.switch_page(f"screens/{page}.py")
            at.run()
        return at
    return open_
