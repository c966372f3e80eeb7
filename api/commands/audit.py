"""`tower audit verify`: walk every exception's audit trail and say whether it verifies (core.audit)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from sqlalchemy.exc import SQLAlchemyError

from core.audit import StoreCheck, verify_store
from core.settings import get_settings
from core.store import make_engine

audit_app = typer.Typer(no_args_is_help=True, add_completion=False)


@audit_app.command("verify")
def verify(
    db: Annotated[str | None, typer.Option(help="Database URL (default: TOWER_DATABASE_URL or sqlite:///tower.db).")]
    = None,
) -> None:
    """Check every trail: exit 0 with the count verified, or exit 1 naming the first entry that does not verify.

    Reads only: the store is neither created nor upgraded.
    """
    url = db or get_settings().database_url
    check = _read(url)
    if check.ok:
        typer.echo(f"audit: {check.entries} entries verified in {check.trails} trails "
                   f"({check.records} action records as audited)")
        return
    first = check.failures[0]
    typer.echo(f"audit: {first.exception_id}: {first.problem}")
    typer.echo(f"audit: {len(check.failures)} of {check.trails} trails do not verify "
               f"({check.entries} entries verified)")
    raise typer.Exit(1)


def _read(url: str) -> StoreCheck:
    engine = make_engine(url)
    shown = engine.url.render_as_string(hide_password=True)
    try:
        name = engine.url.database
        if engine.dialect.name == "sqlite" and name and name != ":memory:" and not Path(name).exists():
            raise _fail(shown, "no such file")
        return verify_store(engine)
    except SQLAlchemyError as err:
        raise _fail(shown, str(getattr(err, "orig", None) or err).splitlines()[0]) from None
    finally:
        engine.dispose()


def _fail(url: str, why: str) -> typer.Exit:
    typer.echo(f"audit: cannot read the audit trails of {url}: {why}", err=True)
    return typer.Exit(2)
