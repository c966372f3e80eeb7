"""Exceptions per second drained by 1, 2 and 4 `tower worker` processes on PostgreSQL.

Each run gets a fresh database with N open `fraud_hold` exceptions (F1: one
`release_hold` each, so the graph and the claim path dominate, not the
effects), starts the workers with `--exit-when-idle`, and reports throughput
two ways: over the wall time of the whole run (process start-up included),
and over the span from the first claim to the last resolution (from the
store's own timestamps). It also checks that every exception was claimed
exactly once and resolved.

    .venv/bin/python bench/workers.py --exceptions 2000 --workers 1 2 4
"""

from __future__ import annotations

import argparse

from sqlalchemy import func, text
from sqlmodel import Session, select

from api.runtime import open_runtime
from api.settings import ServiceSettings
from api.testing import drain_with_processes, postgres_database, seed_fraud_holds, seed_shop
from core.models import OrderException


def run(n: int, workers: int) -> dict[str, float]:
    with postgres_database("tower_bench") as url:
        rt = open_runtime(ServiceSettings(database_url=url))
        seed_shop(rt.engine)
        seed_fraud_holds(rt.engine, n)
        wall = drain_with_processes(url, workers, prefix=f"bench{workers}-")
        with Session(rt.engine) as s:
            resolved = s.exec(select(func.count()).select_from(OrderException)
                              .where(OrderException.state == "resolved")).one()
            claims = s.execute(text("SELECT count(*), count(DISTINCT exception_id) FROM auditentry "
                                    "WHERE kind = 'claimed'")).one()
            span = s.execute(text(
                "SELECT extract(epoch FROM max(e.resolved_at) - min(a.at)) FROM exceptions e, auditentry a "
                "WHERE a.kind = 'claimed'")).scalar_one()
        rt.close()
    if resolved != n or tuple(claims) != (n, n):
        raise SystemExit(f"{workers} workers: {resolved}/{n} resolved, claims {tuple(claims)}")
    return {"wall": wall, "span": float(span), "per_s_wall": n / wall, "per_s_span": n / float(span)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--exceptions", type=int, default=2000)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    print(f"{args.exceptions} fraud_hold exceptions (F1 release) on PostgreSQL, each claimed once and resolved")
    print(f"{'workers':>7} {'wall s':>8} {'exc/s (wall)':>13} {'span s':>8} {'exc/s (span)':>13}")
    for w in args.workers:
        r = run(args.exceptions, w)
        print(f"{w:>7} {r['wall']:>8.1f} {r['per_s_wall']:>13.1f} {r['span']:>8.1f} {r['per_s_span']:>13.1f}")


if __name__ == "__main__":
    main()
