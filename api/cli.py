"""`tower`: the one command line of the control tower."""

from __future__ import annotations

import typer

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="Exception Control Tower: keeps an OMS's promises when the world breaks them.")


def _register() -> None:
    from api.commands.audit import audit_app
    from api.commands.replay import replay_app
    from api.commands.serve import api, sweep, up, worker
    from api.commands.simulate import simulate
    from evals.cli import eval_app

    app.command("simulate")(simulate)
    app.command("api")(api)
    app.command("worker")(worker)
    app.command("up")(up)
    app.command("sweep")(sweep)
    app.add_typer(eval_app, name="eval", help="Replay suites of recorded cases offline.")
    app.add_typer(replay_app, name="replay", help="Replay real marketplace history through the control tower.")
    app.add_typer(audit_app, name="audit", help="Check that no audit trail was rewritten.")


_register()

if __name__ == "__main__":
    app()
