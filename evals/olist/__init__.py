"""Replaying real Olist marketplace history through the control tower.

    tower replay olist ../shared/data/olist --report olist-report.json [--limit N]

`core.olist` reads and maps the extract and derives the rate card (pure, no
agents); `evals.olist.replay` drives the OMS services on a virtual clock and
works every exception through `agents.service.work_exception`;
`evals.olist.report` turns the store into the byte-stable report.
"""
