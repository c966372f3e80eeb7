"""Claims are leases: the holder renews its claim while it works, and a claim not renewed lapses.

A worker (or the API resuming a graph for a decider) claims an exception by
setting `claimed_by`/`claimed_at`. While the graph runs, a `Heartbeat` renews
`claimed_at` from its own thread every third of the lease, so a graph that
runs longer than the lease is not taken for dead and worked a second time. A
renewal only touches a claim that is still the holder's: once someone else
holds it, the heartbeat stops. When the holder dies, the renewals stop and the
claim lapses one lease later.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime
from types import TracebackType

from sqlalchemy import Engine, bindparam, update

from core.clock import Clock
from core.models import OrderException

log = logging.getLogger(__name__)

_X = OrderException.__table__
_RENEW = (update(_X).where(_X.c.id == bindparam("xid"), _X.c.claimed_by == bindparam("holder"))
          .values(claimed_at=bindparam("at")))


class Heartbeat:
    """Renews one claim every `every` seconds until the block ends (or the claim is someone else's).

    `on_renew` is a test hook: it gets each renewal's time.
    """

    def __init__(self, engine: Engine, exception_id: str, holder: str, *, clock: Clock, every: float,
                 on_renew: Callable[[datetime], None] | None = None) -> None:
        self.engine, self.exception_id, self.holder = engine, exception_id, holder
        self.clock, self.every, self.on_renew = clock, every, on_renew
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"heartbeat:{exception_id}", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, _t: type[BaseException] | None, _e: BaseException | None, _tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def renew(self) -> bool:
        """One renewal; false when the claim is no longer this holder's."""
        at = self.clock.now()
        with self.engine.begin() as conn:
            held = conn.execute(_RENEW, {"xid": self.exception_id, "holder": self.holder, "at": at}).rowcount == 1
        if held and self.on_renew is not None:
            self.on_renew(at)
        return held

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                if not self.renew():
                    log.warning("%s no longer holds %s: heartbeat stopped", self.holder, self.exception_id)
                    return
            except Exception:  # a failed renewal is retried at the next beat; the lease allows for a few
                log.exception("renewing %s's claim on %s failed", self.holder, self.exception_id)
