"""The optional parts of the install (pyproject.toml's extras), named when one is missing.

`pip install .` brings the OMS on SQLite, the agents with the rules planner, the evals, the service and the
CLI; PostgreSQL, the llm planner and the dashboard are extras (`postgres`, `llm`, `ui`). Code that needs one
imports it lazily inside `needs_extra`, so a machine without it is told which extra to install.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


class MissingExtra(ImportError):
    def __init__(self, extra: str, what: str, module: str | None) -> None:
        super().__init__(f"{what} needs the `{extra}` extra (module {module!r} is not installed): run "
                         f"`bash scripts/setup.sh full` (every extra, at the locked versions) or "
                         f"`pip install '.[{extra}]'`")
        self.extra = extra


@contextmanager
def needs_extra(extra: str, what: str) -> Iterator[None]:
    """Turn a missing module met inside into a `MissingExtra` naming `extra` and what needed it."""
    try:
        yield
    except ModuleNotFoundError as err:
        raise MissingExtra(extra, what, err.name) from err
