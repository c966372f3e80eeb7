"""Named Core statements run straight on the DBAPI cursor of a SQLAlchemy connection.

Why: on the lifecycle's hot paths SQLAlchemy's per-execution machinery (cache
key, execution context, parameter construction, result metadata) costs about
ten times what the driver spends on a small statement. The statements stay
SQLAlchemy Core expressions, so the SQL is still written once and rendered by
each dialect: this module compiles each one once per dialect and parameter
shape, keeps the SQL text, the order of its parameters and SQLAlchemy's own
per-type bind and result conversions (the UTC `DateTime`, JSON, booleans),
then runs it on the connection's driver cursor. Values reach the database
byte for byte as `Connection.execute` would send them, in the same
transaction, and driver errors are wrapped as SQLAlchemy's `DBAPIError`
subclasses, so callers see what they saw before.

Conversions are SQLAlchemy's own per-type processors, except `UTCDateTime` on
SQLite, done by a small explicit helper (see `bind_converter`), the one hot
enough to matter.

What it does not do: no ORM, no events (`before_cursor_execute` listeners do
not see these statements), and only scalar Python-side column defaults.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from operator import itemgetter
from types import SimpleNamespace
from typing import Any, NamedTuple

from sqlalchemy import Connection, exc
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement, visitors
from sqlalchemy.sql.elements import BindParameter

from core.types import UTCDateTime

Params = Mapping[str, Any]
_Reader = Callable[[Params], Sequence[Any]]


@dataclass
class Prepared:
    """One statement compiled for one dialect and one parameter shape."""

    sql: str
    names: tuple[str, ...]
    """Bind names in the order the SQL wants them (positional) or as the keys of a dict (named)."""
    read: _Reader
    """The caller's parameters (plus fixed literals and scalar column defaults) as values in `names` order."""
    converters: tuple[tuple[int, Callable[[Any], Any]], ...]
    """(slot, bind processor) for the slots whose type converts the value (UTC datetimes, JSON, ...)."""
    positional: bool
    columns: tuple[str, ...]
    types: tuple[Any, ...]
    results: tuple[tuple[int, Callable[[Any], Any]], ...] | None = None
    """(column, result processor): resolved on the first fetch, from the cursor's type codes."""

    def bind(self, params: Params) -> Sequence[Any] | dict[str, Any]:
        values = self.read(params)
        if self.converters:
            values = list(values)
            for i, convert in self.converters:
                values[i] = convert(values[i])
        return values if self.positional else dict(zip(self.names, values, strict=True))


class Statements:
    """A registry of named Core statements, each run on the driver cursor of the caller's connection.

    `insert`/`update` statements take their column list from the parameter keys (as
    `Connection.execute` does), so one registered `update(table)` serves any set of columns.
    """

    def __init__(self, statements: Mapping[str, ClauseElement]) -> None:
        self.statements = dict(statements)
        self._lists = {name: tuple(sorted({b.key for b in visitors.iterate(stmt)
                                           if isinstance(b, BindParameter) and b.expanding}))
                       for name, stmt in self.statements.items()}
        """Per statement, its expanding (`IN`) parameters, whose list lengths are part of the shape."""
        self._prepared: weakref.WeakKeyDictionary[Dialect, dict[tuple[Any, ...], Prepared]] = (
            weakref.WeakKeyDictionary())
        self._last: tuple[Dialect | None, dict[tuple[Any, ...], Prepared]] = (None, {})
        """The last dialect's cache: one process nearly always talks to one database."""

    # ------------------------------------------------------------------ running

    def execute(self, on: Connection | Link, name: str, params: Params | None = None) -> int:
        """Run one statement; returns its rowcount."""
        link, params = _link(on), params or {}
        prepared = self.prepare(link.dialect, name, params)
        cursor = _run(link, prepared, prepared.bind(params))
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def executemany(self, on: Connection | Link, name: str, rows: Sequence[Params]) -> int:
        """Run one statement for many parameter sets (the first set fixes the shape); returns rowcount."""
        if not rows:
            return 0
        link = _link(on)
        prepared = self.prepare(link.dialect, name, rows[0])
        cursor = _run(link, prepared, [prepared.bind(r) for r in rows], many=True)
        count = int(cursor.rowcount)
        cursor.close()
        return count

    def tuples(self, on: Connection | Link, name: str, params: Params | None = None) -> list[tuple[Any, ...]]:
        """The rows, each value converted as SQLAlchemy would hand it back."""
        return self._fetch(_link(on), name, params)[1]

    def all(self, on: Connection | Link, name: str, params: Params | None = None) -> list[SimpleNamespace]:
        """The rows as mutable views (an attribute per column) the pure state machines can step."""
        prepared, rows = self._fetch(_link(on), name, params)
        return [SimpleNamespace(**dict(zip(prepared.columns, r, strict=True))) for r in rows]

    def first(self, on: Connection | Link, name: str, params: Params | None = None) -> SimpleNamespace | None:
        """The first row as a mutable view, or None."""
        prepared, rows = self._fetch(_link(on), name, params, limit=1)
        return SimpleNamespace(**dict(zip(prepared.columns, rows[0], strict=True))) if rows else None

    def _fetch(self, link: Link, name: str, params: Params | None,
               limit: int | None = None) -> tuple[Prepared, list[tuple[Any, ...]]]:
        params = params or {}
        prepared = self.prepare(link.dialect, name, params)
        cursor = _run(link, prepared, prepared.bind(params))
        try:
            rows = cursor.fetchall() if limit is None else cursor.fetchmany(limit)
            results = _results(link, prepared, cursor) if rows else ()
        finally:
            cursor.close()
        if not results:
            return prepared, [tuple(r) for r in rows]
        out = []
        for row in rows:
            values = list(row)
            for i, convert in results:
                values[i] = convert(values[i])
            out.append(tuple(values))
        return prepared, out

    # ------------------------------------------------------------------ compiling

    def prepare(self, dialect: Dialect, name: str, params: Params) -> Prepared:
        """The compiled form for this dialect and this parameter shape (keys; lengths of IN lists)."""
        last, cache = self._last
        if dialect is not last:
            cache = self._prepared.get(dialect) or self._prepared.setdefault(dialect, {})
            self._last = (dialect, cache)
        lists = self._lists[name]
        shape = (name, *params, *(len(params[k]) for k in lists)) if lists else (name, *params)
        prepared = cache.get(shape)
        if prepared is None:
            prepared = cache[shape] = _compile(self.statements[name], dialect, params, lists)
        return prepared


class Link(NamedTuple):
    """A driver connection and the dialect its SQL is rendered for: what the statements run on."""

    dialect: Dialect
    driver: Any

    @classmethod
    def of(cls, conn: Connection) -> Link:
        """The driver connection under a SQLAlchemy connection, in the same transaction."""
        return cls(conn.dialect, conn.connection.driver_connection)


def _link(on: Connection | Link) -> Link:
    return on if type(on) is Link else Link.of(on)  # type: ignore[arg-type]


def _run(link: Link, prepared: Prepared, values: Any, *, many: bool = False) -> Any:
    cursor = link.driver.cursor()
    try:
        if many:
            cursor.executemany(prepared.sql, values)
        else:
            cursor.execute(prepared.sql, values)
    except link.dialect.loaded_dbapi.Error as e:
        cursor.close()
        raise exc.DBAPIError.instance(prepared.sql, values, e, link.dialect.loaded_dbapi.Error,
                                      dialect=link.dialect, ismulti=many) from e
    return cursor


def _results(link: Link, prepared: Prepared, cursor: Any) -> tuple[tuple[int, Callable[[Any], Any]], ...]:
    if prepared.results is None:
        codes = [d[1] for d in cursor.description]
        found = ((i, result_converter(t, link.dialect, code))
                 for i, (t, code) in enumerate(zip(prepared.types, codes, strict=True)))
        prepared.results = tuple((i, p) for i, p in found if p is not None)
    return prepared.results


def _compile(stmt: ClauseElement, dialect: Dialect, params: Params, lists: tuple[str, ...]) -> Prepared:
    """Render the SQL, and plan how each bind gets its value and conversion."""
    keys = [k for k in params if k not in lists]
    compiled: Any = stmt.compile(dialect=dialect, column_keys=keys)
    state = compiled.construct_expanded_state({**dict.fromkeys(keys), **{k: [None] * len(params[k]) for k in lists}})
    origin = {n: (p, i) for p, names in (state.parameter_expansion or {}).items() for i, n in enumerate(names)}
    defaults = {c.key: c.default for c in (*compiled.insert_prefetch, *compiled.update_prefetch)}
    names = tuple(state.positiontup if compiled.positional else state.parameters)
    fixed: dict[str, Any] = {}
    converters: list[tuple[int, Callable[[Any], Any]]] = []
    for slot, bind_name in enumerate(names):
        param, index = origin.get(bind_name, (bind_name, None))
        convert = bind_converter(compiled.binds[param].type, dialect)
        if index is None and param not in params:  # a literal, or a scalar column default: converted once here
            if param in defaults:
                if not defaults[param].is_scalar:
                    raise TypeError(f"{param}: only scalar column defaults can be prepared")
                value = defaults[param].arg
            else:
                value = compiled.binds[param].effective_value
            fixed[param] = value if convert is None else convert(value)
        elif convert is not None:
            converters.append((slot, convert))
    returned = list(getattr(stmt, "exported_columns", ()))
    return Prepared(sql=state.statement, names=names, read=_reader(names, origin, fixed),
                    converters=tuple(converters), positional=bool(compiled.positional),
                    columns=tuple(c.key for c in returned), types=tuple(c.type for c in returned))


def _reader(names: tuple[str, ...], origin: Mapping[str, tuple[str, int]], fixed: Mapping[str, Any]) -> _Reader:
    """The cheapest function from the caller's parameters to the values in bind order.

    Usually one `itemgetter` over the caller's dict; fixed values are merged in first;
    an expanded IN list's `skus_2` is element 1 of the caller's `skus`.
    """
    if origin:
        slots = [origin.get(n, (n, None)) for n in names]
        return lambda p: [fixed[k] if k in fixed else p[k] if i is None else p[k][i] for k, i in slots]
    if not names:
        return lambda _p: ()
    pick = itemgetter(*names) if len(names) > 1 else (lambda p, n=names[0]: (p[n],))
    if fixed:
        return lambda p: pick({**fixed, **p})
    return pick


# ---------------------------------------------------------------------- conversions

def bind_converter(type_: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """SQLAlchemy's bind processor for the type, or an explicit cheaper equivalent.

    `UTCDateTime` on SQLite is the one replaced: SQLAlchemy stores `DateTime` there as
    `YYYY-MM-DD HH:MM:SS.ffffff` via `%`-formatting a dict, which is `isoformat(" ",
    "microseconds")` of the naive UTC value; it is the most frequent conversion (every event's `at`).
    """
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        to_naive_utc = type_.process_bind_param

        def sqlite_utc(value: datetime | None) -> str | None:
            naive = to_naive_utc(value, dialect)
            return None if naive is None else naive.isoformat(" ", "microseconds")

        return sqlite_utc
    return type_._cached_bind_processor(dialect)  # type: ignore[no-any-return]


def result_converter(type_: Any, dialect: Dialect, code: Any) -> Callable[[Any], Any] | None:
    """SQLAlchemy's result processor for the type, or the explicit inverse of `bind_converter`'s."""
    if dialect.name == "sqlite" and isinstance(type_, UTCDateTime):
        to_aware = type_.process_result_value
        parse = datetime.fromisoformat

        def sqlite_utc(value: str | None) -> datetime | None:
            return None if value is None else to_aware(parse(value), dialect)

        return sqlite_utc
    return type_._cached_result_processor(dialect, code)  # type: ignore[no-any-return]
