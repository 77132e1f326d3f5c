"""One store for everything the graph must remember: SQLite (WAL) by default, PostgreSQL by URL.

`sqlite:///var/investiq.sqlite` suits one machine; on a multi-node cluster every replica
must reach the same store, so point `store_url` at PostgreSQL
(`postgresql+psycopg://user:pass@host/investiq`, with the `postgres` extra installed).

Only the Ledger deployment opens it. Acknowledged state (outcomes, syncs, settlements) is
committed (SQLite: `synchronous=FULL`) before a call returns. A state-changing request first
claims its id (an insert with the dialect's ON CONFLICT DO NOTHING, which on PostgreSQL waits
for a concurrent claim to commit, and on SQLite runs under `BEGIN IMMEDIATE`, one writer at a
time), so a resend, or two Ledgers while Serve replaces one, either replays the first answer
or is refused, and never counts anything twice. Strategy posteriors are read from the
outcome log itself (a decayed sum in SQL), so no copy of them can drift from what is stored.
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy import Connection, Engine, Table, case, create_engine, event, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import make_url

from models.bar_spacing import typical_spacing
from models.evaluation import realised_direction
from models.har_model import bar_measure
from models.volatility import is_intraday, realised_after
from models.strategy_weights import Evidence, Payoffs, PayoffSums
from store import migrate, schema
from store.errors import Conflict
from store.schema import price_predictions, requests, risk_predictions, strategy_outcomes, strategy_syncs

TABLES = {t.name: t for t in schema.metadata.sorted_tables}
LN2 = math.log(2.0)


def sqlite_url(data_dir: str | Path) -> str:
    return f"sqlite:///{Path(data_dir) / 'investiq.sqlite'}"


def fingerprint(content) -> str:
    """A stable digest of JSON-able content: the same request sent twice has the same one."""
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


@dataclass(frozen=True)
class OutcomeRow:
    strategy: str
    win: bool
    observed_at: float
    key: str  # idempotency key: the outcome's id, or `<request_id>#<position>`
    fingerprint: str  # of what the sender said (strategy, outcome, its own timestamp, R multiple)
    r_multiple: float | None = None


def _make_engine(url: str) -> Engine:
    parsed = make_url(url)
    if parsed.get_backend_name() not in ("sqlite", "postgresql"):
        raise ValueError(f"store_url {parsed.render_as_string(hide_password=True)}: the store speaks SQLite and "
                         "PostgreSQL only; use sqlite:///path or postgresql+psycopg://user:password@host/db")
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(url, connect_args={"timeout": 30})

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_connection, _):
        dbapi_connection.isolation_level = None  # transactions begin where SQLAlchemy says, below
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
        cursor.execute("PRAGMA synchronous=FULL")  # committed means on disk
        cursor.close()
        dbapi_connection.create_function("exp", 1, math.exp, deterministic=True)  # PostgreSQL has it built in

    @event.listens_for(engine, "begin")
    def _begin(conn):  # take the write lock before reading, so check-then-write cannot race
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def _insert_new(conn: Connection, table: Table, row: dict, key: str) -> bool:
    """Insert unless a row with the same unique `key` exists; whether it was inserted.

    `preserve_rowcount`: SQLAlchemy promises an INSERT's rowcount only when asked (on
    PostgreSQL it is -1 otherwise, which read as 'already there' would drop every outcome)."""
    dialect = {"sqlite": sqlite, "postgresql": postgresql}[conn.dialect.name]
    statement = dialect.insert(table).values(**row).on_conflict_do_nothing(index_elements=[key])
    return conn.execute(statement, execution_options={"preserve_rowcount": True}).rowcount == 1


def _claim(conn: Connection, request_id: str, route: str, digest: str, at: float) -> dict | None:
    """Claim `request_id` for this request: None when it is new (its answer is stored by
    `_answer` in the same transaction); the first answer when it was this same request;
    Conflict when it was used for other content."""
    if _insert_new(conn, requests, {"request_id": request_id, "route": route, "fingerprint": digest,
                                    "created_at": at, "result": {}}, "request_id"):
        return None
    row = conn.execute(select(requests).where(requests.c.request_id == request_id)).one()
    if row.fingerprint != digest or row.route != route:
        raise Conflict(f"request_id {request_id!r} was used before with other content ({row.route}); "
                       "send new content under a new request_id", ("request_id",))
    return {**row.result, "replayed": True}


def _answer(conn: Connection, request_id: str, result: dict) -> dict:
    conn.execute(update(requests).where(requests.c.request_id == request_id).values(result=result))
    return result


def _settle_risk(conn: Connection, symbol: str, bars: dict, timestamps: np.ndarray, closes: np.ndarray,
                 at: float) -> int:
    """Settle the risk forecasts of `symbol` these bars decide, with the measure each forecast is
    of: within-session squared returns for intraday bars, the Parkinson range for daily ones."""
    r = risk_predictions
    rows = conn.execute(select(r.c.id, r.c.as_of, r.c.last_close, r.c.horizon).where(
        r.c.symbol == symbol, r.c.realised_variance.is_(None), r.c.as_of >= timestamps[0],
        r.c.as_of <= timestamps[-1])).all()
    if not rows:
        return 0
    measure = bar_measure(bars, is_intraday(typical_spacing(timestamps)))
    settled = 0
    for row in rows:
        got = realised_after(row.as_of, row.last_close, row.horizon, timestamps, closes, measure)
        if got is not None:
            conn.execute(update(r).where(r.c.id == row.id, r.c.realised_variance.is_(None)).values(
                realised_variance=got[0], realised_return=got[1], realised_at=at))
            settled += 1
    return settled


class Store:
    def __init__(self, url: str, migrate_schema: bool = False):
        """`migrate_schema`: bring the schema up to date (the Ledger does, once, when it starts);
        otherwise a store at another schema revision is refused."""
        self.url = url
        self.engine = _make_engine(url)
        if migrate_schema:
            self.revision = migrate.upgrade(self.engine)
        else:
            self.revision = migrate.check_current(self.engine)

    # ---- strategy outcomes: committed before the call returns ---------------------------

    def record_outcomes(self, request_id: str, digest: str, outcomes: list[OutcomeRow],
                        received_at: float) -> tuple[dict, list[OutcomeRow]]:
        """Record the outcomes of one request in one transaction: ({recorded, duplicates,
        replayed}, the outcomes stored now).

        The same request again (same id, same content) replays the first answer; an outcome
        key recorded before with the same content is a duplicate, not counted again; any id
        reused for other content raises Conflict and records nothing of the request."""
        o_ = strategy_outcomes.c
        with self.engine.begin() as conn:
            if (first := _claim(conn, request_id, "outcomes", digest, received_at)) is not None:
                return first, []
            stored = []
            for i, o in enumerate(outcomes):
                if _insert_new(conn, strategy_outcomes, {
                        "strategy": o.strategy, "win": o.win, "observed_at": o.observed_at,
                        "received_at": received_at, "idempotency_key": o.key, "fingerprint": o.fingerprint,
                        "r_multiple": o.r_multiple},
                        "idempotency_key"):
                    stored.append(o)
                    continue
                known = conn.execute(select(o_.fingerprint).where(o_.idempotency_key == o.key)).scalar()
                if known not in (None, o.fingerprint):  # None: recorded before fingerprints existed
                    raise Conflict(f"outcomes[{i}].id {o.key!r} was recorded before with other content; "
                                   "give each trade its own id", ("outcomes", i, "id"))
            result = _answer(conn, request_id, {"recorded": len(stored), "duplicates": len(outcomes) - len(stored),
                                                "replayed": False})
        return result, stored

    def record_sync(self, request_id: str, days: float, now: float) -> dict:
        """From now on posteriors use only outcomes observed in the last `days` days; {since, replayed}."""
        with self.engine.begin() as conn:
            if (first := _claim(conn, request_id, "sync", fingerprint({"days": days}), now)) is not None:
                return first
            since = now - days * 24 * 3600.0
            conn.execute(insert(strategy_syncs).values(since=since, at=now))
            return _answer(conn, request_id, {"since": since, "replayed": False})

    def strategy_evidence(self, now: float, half_life_s: float | None) -> tuple[float | None, Evidence, Payoffs]:
        """The sync window's start (None: all outcomes), and per strategy from the log in it:
        (decayed wins, decayed losses, outcomes), and the decayed sums behind the mean R multiple
        and its interval (strategies with R outcomes only). An outcome observed at t weighs 0.5 ** ((now - t) / half_life) (1 without
        decay; 0 past 1,000 half-lives, where PostgreSQL's exp() would underflow with an error)."""
        o = strategy_outcomes.c
        exponent = (o.observed_at - now) * (LN2 / half_life_s if half_life_s else 0.0)
        weight = case((o.observed_at >= now, 1.0), (exponent < -700.0, 0.0), else_=func.exp(exponent))
        with_r = o.r_multiple.is_not(None)
        query = (select(o.strategy, func.sum(case((o.win, weight), else_=0.0)),
                        func.sum(case((o.win, 0.0), else_=weight)), func.count(),
                        func.sum(case((with_r, weight), else_=0.0)),
                        func.sum(case((with_r, weight * o.r_multiple), else_=0.0)),
                        func.sum(case((with_r, weight * o.r_multiple * o.r_multiple), else_=0.0)),
                        func.sum(case((with_r, weight * weight), else_=0.0)), func.count(o.r_multiple))
                 .group_by(o.strategy).order_by(o.strategy))
        with self.engine.connect() as conn:
            since = conn.execute(select(strategy_syncs.c.since).order_by(strategy_syncs.c.id.desc()).limit(1)).scalar()
            if since is not None:
                query = query.where(o.observed_at >= since)
            rows = conn.execute(query).all()
        evidence = {s: (float(w), float(lo), int(n)) for s, w, lo, n, *_ in rows}
        payoffs = {s: PayoffSums(*(float(x) for x in sums), int(n_r)) for s, _, _, _, *sums, n_r in rows if n_r}
        return since, evidence, payoffs

    # ---- predictions and model loads ----------------------------------------------------

    def ping(self) -> None:
        with self.engine.connect() as conn:
            conn.execute(select(1))

    def write(self, records: list[tuple[str, dict]]) -> None:
        """Rows for several tables in one transaction: (table name, row)."""
        by_table: dict[str, list[dict]] = {}
        for table, row in records:
            by_table.setdefault(table, []).append(row)
        with self.engine.begin() as conn:
            for table, rows in by_table.items():
                conn.execute(insert(TABLES[table]), rows)

    def rows(self, table: str, **equal) -> list[dict]:
        t = TABLES[table]
        query = select(t).where(*(t.c[k] == v for k, v in equal.items()))
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query.order_by(*t.primary_key.columns))]

    # ---- realised results -----------------------------------------------------------------

    def settle(self, request_id: str, symbol: str, bars: dict, at: float) -> dict:
        """Record the realised direction of every logged price prediction of `symbol` these bars
        (the API's columns, epoch-second timestamps) decide, and the realised variance and return
        of every logged risk forecast; {settled, risk_settled, replayed}. A prediction is settled
        once: later bars change nothing."""
        timestamps, closes = np.asarray(bars["timestamps"], dtype=np.float64), np.asarray(bars["close"])
        digest = fingerprint({"symbol": symbol, "t": timestamps.tolist(), "c": closes.tolist()})
        p = price_predictions
        with self.engine.begin() as conn:
            if (first := _claim(conn, request_id, "realised", digest, at)) is not None:
                return first
            rows = conn.execute(select(p.c.id, p.c.as_of, p.c.last_close, p.c.horizon, p.c.flat_band_bp).where(
                p.c.symbol == symbol, p.c.realised.is_(None), p.c.as_of >= timestamps[0],
                p.c.as_of <= timestamps[-1])).all()
            settled = 0
            for row in rows:
                got = realised_direction(row.as_of, row.last_close, row.horizon, row.flat_band_bp, timestamps, closes)
                if got is not None:
                    conn.execute(update(p).where(p.c.id == row.id, p.c.realised.is_(None)).values(
                        realised=got[0], realised_return=got[1], realised_at=at))
                    settled += 1
            risk_settled = _settle_risk(conn, symbol, bars, timestamps, closes, at)
            return _answer(conn, request_id, {"settled": settled, "risk_settled": risk_settled, "replayed": False})

    def risk_predictions_since(self, symbol: str, since: float) -> list[dict]:
        r = risk_predictions
        query = select(r.c.model_version, r.c.as_of, r.c.horizon, r.c.variance, r.c.har_variance, r.c.var_95,
                       r.c.var_99, r.c.realised_variance, r.c.realised_return).where(
            r.c.symbol == symbol, r.c.created_at >= since).order_by(r.c.id)
        with self.engine.connect() as conn:
            return [dict(r_._mapping) for r_ in conn.execute(query)]

    def price_predictions_since(self, symbol: str, since: float) -> list[dict]:
        p = price_predictions
        query = select(p.c.model_version, p.c.as_of, p.c.horizon, p.c.p_up, p.c.p_flat, p.c.p_down, p.c.score,
                       p.c.realised, p.c.realised_return).where(
            p.c.symbol == symbol, p.c.created_at >= since).order_by(p.c.id)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def latest(self, table: str, limit: int, since: float | None = None) -> list[dict]:
        """The newest `limit` rows of a table, newest first; `since`: created (a load: at) since then."""
        t = TABLES[table]
        query = select(t).order_by(*(c.desc() for c in t.primary_key.columns)).limit(limit)
        if since is not None:
            query = query.where((t.c.created_at if "created_at" in t.c else t.c.at) >= since)
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(query)]

    def count(self, table: str) -> int:
        with self.engine.connect() as conn:
            return conn.execute(select(func.count()).select_from(TABLES[table])).scalar()

    def close(self) -> None:
        self.engine.dispose()
