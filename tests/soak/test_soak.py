"""Soak: `tower api` + two `tower worker`s on PostgreSQL, a simulator feed, and a bot deciding held items at
random over HTTP, while workers and the API are SIGKILLed at random moments (seeded) and restarted. Then
every check in CHECKS must hold: nothing stuck, nothing applied twice, every order's refunds within what was
captured and on the refund ledger.

Bounded for CI: TOWER_SOAK_SECONDS of chaos (default 60), then the survivors finish the work (at most a few
leases). Longer: TOWER_SOAK_SECONDS=900; another draw of kills and decisions: TOWER_SOAK_SEED.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from servicekit import ledger_mismatches, need_postgres
from sqlalchemy import Engine, text

from api.runtime import open_runtime
from api.settings import MIN_LEASE_SECONDS, ServiceSettings
from api.testing import postgres_database, seed_fraud_holds, seed_shop
from api.worker import Worker
from core.audit import verify_store
from core.errors import DomainError
from core.simulator import Simulation, scenario_named, with_rates

pytestmark = [pytest.mark.postgres, pytest.mark.soak]

CHAOS_SECONDS = float(os.environ.get("TOWER_SOAK_SECONDS", "60"))
SEED = int(os.environ.get("TOWER_SOAK_SEED", "10"))
LEASE = MIN_LEASE_SECONDS
DECIDE_SECONDS = 20.0
"""After the chaos, the bot goes on deciding (no more kills, no more feed) for the held items made last."""
SETTLE_SECONDS = 4 * LEASE + 60
"""Then the workers finish: lapsed claims (one lease) and the work behind them, with room for a slow machine."""
TOKENS = {"soak-lead-token-0001": {"name": "lia (lead)", "role": "lead"},
          "soak-supervisor-token-0001": {"name": "sam (supervisor)", "role": "supervisor"},
          "soak-viewer-token-0001": {"name": "vera (viewer)", "role": "viewer"}}
FEED = {"fraud_rate": "0.3", "return_rate": "0.3", "dispute_rate": "0.5", "delay_rate": "0.15"}
SETTLED = ("resolved", "rejected", "failed", "escalated")
"""Terminal, or handed to people outside the tower (escalated): no worker owes these anything."""


# --------------------------------------------------------------------------- the final checks

Check = Callable[[Engine], list[str]]


def _rows(engine: Engine, sql: str) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(text(sql)).all())


def no_exception_stuck(engine: Engine) -> list[str]:
    """Every exception settled, or awaiting a supervisor with something held for them to decide, or a fraud hold
    whose order is still on hold awaiting a supervisor's release or cancel (no order left stranded)."""
    return [f"{x} is {s} with {held} held" for x, s, held, stranded in _rows(engine, f"""
        SELECT x.id, x.state, (SELECT count(*) FROM action_record a WHERE a.exception_id = x.id
                                                                      AND a.status = 'held'),
               x.type = 'fraud_hold' AND o.status = 'on_hold'
        FROM exceptions x JOIN orders o ON o.id = x.order_id
        WHERE x.state NOT IN ({", ".join(f"'{s}'" for s in SETTLED)}) ORDER BY x.id""")
        if not (s == "awaiting_approval" and (held > 0 or stranded))]


def no_key_applied_twice(engine: Engine) -> list[str]:
    """Each action key applied once in the audit, and each exception's refund rows are its applied refunds."""
    twice = [f"{key} applied {n} times" for key, n in _rows(engine, """
        SELECT detail->>'key', count(*) FROM auditentry WHERE kind = 'action.applied'
        GROUP BY detail->>'key' HAVING count(*) > 1 ORDER BY 1""")]
    paid = _rows(engine, """
        SELECT r.exception_id, sum(r.amount_cents),
               (SELECT coalesce(sum((a.args->>'amount_cents')::int), 0) FROM action_record a
                WHERE a.exception_id = r.exception_id AND a.status = 'applied'
                  AND a.action IN ('refund', 'approve_return'))
        FROM refund r WHERE r.exception_id IS NOT NULL GROUP BY r.exception_id ORDER BY 1""")
    return twice + [f"{x} paid {rows} for {applied} applied" for x, rows, applied in paid if rows != applied]


def refunds_within_captured(engine: Engine) -> list[str]:
    return [f"{o} refunded {r} of {c} captured" for o, r, c in _rows(
        engine, "SELECT id, refunded_cents, captured_cents FROM orders WHERE refunded_cents > captured_cents")]


def refunds_reconcile(engine: Engine) -> list[str]:
    """refunded_cents = the sum of the order's refund rows, for every order."""
    return [f"{o} refunded {r} but its refund rows sum to {s}" for o, r, s in ledger_mismatches(engine)]


def audit_trails_verify(engine: Engine) -> list[str]:
    """Every exception's audit trail verifies (core.audit): no entry or action record rewritten, none forked."""
    return [f"{c.exception_id}: {c.problem}" for c in verify_store(engine).failures]


CHECKS: list[Check] = [no_exception_stuck, no_key_applied_twice, refunds_within_captured, refunds_reconcile,
                       audit_trails_verify]
"""Add a check here (a function of the engine returning what is wrong) and the soak runs it."""


# --------------------------------------------------------------------------- the processes


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Service:
    """One `tower` process that the chaos kills (SIGKILL) and restarts.

    `probe` says whether a fresh start is up (the worker logged that it runs; the API answers): the chaos
    kills only processes that have been up a while, so each kill interrupts work, not an import.
    """

    name: str
    argv: list[str]
    env: dict[str, str]
    log: Path
    probe: Callable[[Service], bool]
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0
    died_by_itself: list[int] = field(default_factory=list)
    offset: int = 0
    up_since: float | None = None

    def start(self) -> None:
        self.offset = self.log.stat().st_size if self.log.exists() else 0
        self.up_since = None
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(self.argv, env=self.env, stdout=out, stderr=subprocess.STDOUT)
        self.starts += 1

    def uptime(self) -> float:
        """Seconds since this start came up (0 while it is still starting)."""
        if self.up_since is None and self.proc is not None and self.proc.poll() is None and self.probe(self):
            self.up_since = time.monotonic()
        return 0.0 if self.up_since is None else time.monotonic() - self.up_since

    def logged(self, line: str) -> bool:
        with self.log.open("rb") as f:
            f.seek(self.offset)
            return line.encode() in f.read()

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(30)

    def ensure_running(self) -> None:
        if self.proc is not None and self.proc.poll() is not None:
            self.died_by_itself.append(self.proc.returncode)
            self.start()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(15)


@pytest.fixture
def soak_db() -> Iterator[str]:
    need_postgres()
    with postgres_database("tower_soak") as url:
        yield url


# --------------------------------------------------------------------------- the feed and the bot


class Feed(Simulation):
    """The simulator, paced, as a storefront and carriers would feed the OMS while the tower works.

    A step the OMS refuses because the tower acted first (the order was cancelled meanwhile) is counted
    and skipped, as a real storefront's failed call would be.
    """

    refused = 0

    def at(self, when: datetime, step: Callable[[datetime], None]) -> None:
        def guarded(now: datetime) -> None:
            try:
                step(now)
            except DomainError:
                self.refused += 1

        super().at(when, guarded)


@dataclass
class Bot:
    """Decides held items at random through the HTTP API: approve, reject, edit an amount, partial choices,
    and now and then two decisions on one exception at once."""

    base: str
    rng: random.Random
    codes: Counter[str] = field(default_factory=Counter)

    def run(self, stop: threading.Event) -> None:
        with httpx.Client(base_url=self.base, timeout=60) as http:
            while not stop.is_set():
                try:
                    self._one(http)
                except httpx.TransportError:  # the API was killed under us: it comes back
                    self.codes["cut"] += 1
                    stop.wait(0.2)

    def _one(self, http: httpx.Client) -> None:
        state = self.rng.choice(["awaiting_approval", "awaiting_approval", "working"])
        page = http.get("/exceptions", params={"status": state, "limit": 100}, headers=_as("soak-viewer-token-0001"))
        self._count(page)
        candidates = [x["id"] for x in page.json()["items"] if x["held"] or x["type"] == "fraud_hold"] \
            if page.status_code == 200 else []
        if not candidates:
            self.codes["idle"] += 1
            time.sleep(0.05)
            return
        exc_id = self.rng.choice(candidates)
        got = http.get(f"/exceptions/{exc_id}", headers=_as("soak-viewer-token-0001"))
        self._count(got)
        if got.status_code != 200:
            return
        held = [a for a in got.json()["actions"] if a["status"] == "held"]
        if not held:  # a fraud hold left waiting with its order on hold: release or cancel it
            if got.json()["state"] == "awaiting_approval" and got.json()["type"] == "fraud_hold":
                release = {"action": "release_hold", "args": {"order_id": got.json()["order_id"]}}
                self._decide(http, exc_id, ("soak-supervisor-token-0001", {"decision": "add", "actions": [release]}))
            return
        bodies = [self._body(held) for _ in range(2 if self.rng.random() < 0.15 else 1)]
        if len(bodies) == 1:
            self._decide(http, exc_id, bodies[0])
            return
        threads = [threading.Thread(target=self._decide, args=(http, exc_id, b)) for b in bodies]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    def _body(self, held: list[dict[str, Any]]) -> tuple[str, dict[str, Any]]:
        who = "soak-lead-token-0001" if self.rng.random() < 0.8 else "soak-supervisor-token-0001"
        keys = [a["key"] for a in held]
        some = self.rng.sample(keys, self.rng.randint(1, len(keys))) if self.rng.random() < 0.3 else None
        roll = self.rng.random()
        money = [a for a in held if "amount_cents" in a["args"] and int(a["args"]["amount_cents"]) > 1]
        if roll < 0.15 and money:
            a = self.rng.choice(money)
            amount = self.rng.randint(1, int(a["args"]["amount_cents"]))
            return who, {"decision": "edit", "actions": [{"key": a["key"], "args": {"amount_cents": amount}}]}
        decision = "reject" if roll < 0.4 else "approve"
        return who, {"decision": decision, **({"actions": some} if some else {}), "note": "soak"}

    def _decide(self, http: httpx.Client, exc_id: str, body: tuple[str, dict[str, Any]]) -> None:
        try:
            self._count(http.post(f"/exceptions/{exc_id}/decision", json=body[1], headers=_as(body[0])),
                        decision=True)
        except httpx.TransportError:
            self.codes["cut"] += 1

    def _count(self, r: httpx.Response, *, decision: bool = False) -> None:
        if r.status_code >= 500:
            self.codes["5xx"] += 1
            self.codes[f"5xx: {r.text[:200]}"] += 1
        elif decision:
            self.codes["decided" if r.status_code == 200 else f"refused {r.status_code}"] += 1


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _answers(base: str) -> bool:
    try:
        return httpx.get(base + "/me", headers=_as("soak-viewer-token-0001"), timeout=2).status_code == 200
    except httpx.TransportError:
        return False


def _wait_for_api(api: Service, deadline: float) -> None:
    while time.monotonic() < deadline:
        api.ensure_running()
        api.uptime()
        if api.up_since is not None:
            return
        time.sleep(0.2)  # polling for readiness, not ordering a race
    raise AssertionError(f"the API did not come up; see {api.log}")


def _unfinished(engine: Engine) -> int:
    """Exceptions a worker still owes something: open or working, or decided with nothing held."""
    return int(_rows(engine, """
        SELECT count(*) FROM exceptions x WHERE x.state IN ('open', 'working')
           OR (x.state = 'awaiting_approval'
               AND NOT EXISTS (SELECT 1 FROM action_record a WHERE a.exception_id = x.id AND a.status = 'held')
               AND EXISTS (SELECT 1 FROM action_record a WHERE a.exception_id = x.id))""")[0][0])


# --------------------------------------------------------------------------- the soak


def test_soak_kills_and_restarts_never_strand_an_exception_or_pay_twice(soak_db: str, tmp_path: Path) -> None:
    rng = random.Random(SEED)
    rt = open_runtime(ServiceSettings(database_url=soak_db))  # migrated and checkpointer tables made once
    engine = rt.engine
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "TOWER_TOKENS": json.dumps(TOKENS), "TOWER_LOG_LEVEL": "WARNING",
           "TOWER_WORKER_LEASE_SECONDS": f"{LEASE:g}", "TOWER_DATABASE_URL": soak_db}
    cli = [sys.executable, "-m", "api.cli"]
    api = Service("api", [*cli, "api", "--db", soak_db, "--port", str(port)], env, tmp_path / "api.log",
                  probe=lambda _s: _answers(base))
    workers = [Service(f"w{i}", [*cli, "worker", "--db", soak_db, "--id", f"soak-w{i}", "--lease", f"{LEASE:g}"],
                       {**env, "TOWER_LOG_LEVEL": "INFO"}, tmp_path / f"w{i}.log",
                       probe=lambda s: s.logged(f"worker soak-{s.name} on postgresql")) for i in (1, 2)]
    services = [api, *workers]
    kills: Counter[str] = Counter()
    stop, feed_stop = threading.Event(), threading.Event()
    feed = Feed(engine, seed=SEED, scenario=with_rates(scenario_named("baseline"), FEED), rules=rt.rules,
                start=datetime.now(UTC))
    feed.build_network(2_000)
    feed.schedule_orders(2_000)

    class FeedDone(Exception):
        pass

    def pace() -> None:
        if feed_stop.wait(0.01):
            raise FeedDone

    def run_feed() -> None:
        with contextlib.suppress(FeedDone):
            feed.run_until_idle(pace)

    bot = Bot(base, random.Random(f"{SEED}:bot"))
    threads = [threading.Thread(target=run_feed, name="feed", daemon=True),
               threading.Thread(target=bot.run, args=(stop,), name="bot", daemon=True)]
    started = time.monotonic()
    try:
        for s in services:
            s.start()
        _wait_for_api(api, time.monotonic() + 120)
        for t in threads:
            t.start()
        chaos_ends = time.monotonic() + CHAOS_SECONDS
        while (left := chaos_ends - time.monotonic()) > 0:
            time.sleep(min(left, rng.uniform(3.0, 8.0)))  # a random moment (seeded), not a race ordering
            if time.monotonic() >= chaos_ends:
                break
            for s in services:
                s.ensure_running()
            up = [s for s in (*workers, *workers, api) if s.uptime() >= 2.0]
            if not up:
                continue
            victim = rng.choice(up)
            victim.kill()
            kills[victim.name] += 1
            victim.start()
        feed_stop.set()
        threads[0].join(60)
        for s in services:
            s.ensure_running()
        _wait_for_api(api, time.monotonic() + 120)  # a kill near the end may have left it starting
        stop.wait(DECIDE_SECONDS)  # the bot decides on while the workers catch up
        stop.set()
        threads[1].join(60)
        settle_by = time.monotonic() + SETTLE_SECONDS
        while _unfinished(engine) and time.monotonic() < settle_by:
            for s in services:
                s.ensure_running()
            time.sleep(1)  # polling for the workers to finish, not ordering a race
    finally:
        stop.set()
        feed_stop.set()
        for s in services:
            s.stop()

    problems = {check.__name__: check(engine) for check in CHECKS}
    exceptions = dict(_rows(engine, "SELECT state, count(*) FROM exceptions GROUP BY state ORDER BY 1"))
    figures = {
        "seconds": round(time.monotonic() - started),
        "kills": dict(kills), "kills_total": sum(kills.values()),
        "orders": _rows(engine, "SELECT count(*) FROM orders")[0][0],
        "exceptions": sum(exceptions.values()), "by_state": exceptions,
        "decisions": bot.codes["decided"],
        "decisions_refused": {k: v for k, v in bot.codes.items() if k.startswith("refused")},
        "requests_cut_by_kills": bot.codes["cut"],
        "applied": _rows(engine, "SELECT count(*) FROM action_record WHERE status = 'applied'")[0][0],
        "refund_rows": _rows(engine, "SELECT count(*) FROM refund")[0][0],
        "stuck": len(problems["no_exception_stuck"]), "paid_twice": len(problems["no_key_applied_twice"]),
        "audit_trails_not_verifying": len(problems["audit_trails_verify"]),
        "feed_steps_refused": feed.refused,
        "exited_by_themselves": {s.name: s.died_by_itself for s in services if s.died_by_itself},
        "server_errors": bot.codes["5xx"],
        "bot": dict(bot.codes),
    }
    print("\nsoak figures: " + json.dumps(figures, default=str))
    rt.close()
    assert figures["exceptions"] > 0 and figures["decisions"] > 0 and figures["kills_total"] > 0, figures
    failed = {name: found[:10] for name, found in problems.items() if found}
    assert not failed, f"checks failed: {failed}\nfigures: {figures}"
    assert bot.codes["5xx"] == 0, [k for k in bot.codes if k.startswith("5xx:")]
    assert not figures["exited_by_themselves"], f"a process died without being killed; logs in {tmp_path}"


def test_each_final_check_finds_what_it_names(soak_db: str) -> None:
    """The checks are only worth their silence if each speaks up: break the store one way per check."""
    rt = open_runtime(ServiceSettings(database_url=soak_db))
    seed_shop(rt.engine)
    ids = seed_fraud_holds(rt.engine, 3, score=0.95)  # F4: cancel, refund, notify, applied
    Worker(rt, worker_id="w1").drain()
    assert {check.__name__: check(rt.engine) for check in CHECKS} == {check.__name__: [] for check in CHECKS}
    with rt.engine.begin() as conn:
        conn.execute(text("UPDATE exceptions SET state = 'working' WHERE id = :x"), {"x": ids[0]})
        conn.execute(text("INSERT INTO auditentry (at, exception_id, actor, kind, detail, seq, hash) SELECT at, "
                          "exception_id, actor, kind, detail, seq + 100, hash FROM auditentry "
                          "WHERE kind = 'action.applied' AND exception_id = :x "
                          "AND detail->>'action' = 'refund'"), {"x": ids[1]})  # a copy, past the trail's head
        conn.execute(text("UPDATE orders SET refunded_cents = captured_cents + 1 WHERE id = "
                          "(SELECT order_id FROM exceptions WHERE id = :x)"), {"x": ids[2]})
    found = {check.__name__: check(rt.engine) for check in CHECKS}
    rt.close()
    assert [len(found[c.__name__]) for c in CHECKS] == [1, 1, 1, 1, 1], found
