"""The store: records round-trip, Alembic migrations (fresh, legacy, newer refused), requests
by id that replay or conflict, posteriors read from the outcome log, acknowledged outcomes
that survive a crash, and a batched writer that never jams; on SQLite and on a real
PostgreSQL server (the `store_url` fixture)."""

import asyncio
import math
import sqlite3
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from alembic import command
from sqlalchemy import create_engine, event, text
from sqlalchemy.exc import OperationalError

from models.strategy_weights import StrategyWeights
from store.store import Store
from store.migrate import StoreVersionError, _alembic_config, head_revision
from store.store import Conflict, OutcomeRow
from store.writer import BatchedWriter
from tests.support import PROJECT_ROOT

DAY = 24 * 3600.0
DAY_S = 86_400.0
RECORDS = {
    "signals": {"request_id": "r1", "symbol": "SPY", "created_at": 1.0, "decision": "BUY", "score": 0.4,
                "confidence": 0.4, "shadow": True, "model_versions": {"price": "patchtst@v1"},
                "components": {"sentiment": 0.2, "price": {"up": 0.6, "flat": 0.2, "down": 0.2}, "degraded": []}},
    "sentiment_predictions": {"request_id": "r1", "created_at": 1.0, "model_version": "finbert@abc",
                              "text_sha256": "0" * 64, "label": "positive", "score": 0.7},
    "price_predictions": {"request_id": "r1", "symbol": "SPY", "created_at": 1.0, "as_of": 100.0,
                          "last_close": 10.0, "horizon": 4, "flat_band_bp": 5.0, "model_version": "patchtst@v1",
                          "p_up": 0.6, "p_flat": 0.2, "p_down": 0.2},
    "risk_predictions": {"request_id": "r1", "symbol": "SPY", "created_at": 1.0, "as_of": 100.0 * DAY_S,
                         "last_close": 10.0, "horizon": 2, "model_version": "har-rv@v1", "variance": 1e-4,
                         "har_variance": 1e-4, "var_95": 0.02, "var_99": 0.03},
    "model_promotions": {"deployment": "price", "model_id": "patchtst", "version": "v1", "source": "/m/v1",
                         "at": 2.0, "outcome": "loaded", "error": None},
}


def outcome(key: str, win: bool = True, at: float = 1.0, strategy: str = "s", content: str | None = None):
    return OutcomeRow(strategy, win, at, key, content or f"{strategy}-{win}-{at}")


@pytest.fixture
def store(store_url):
    s = Store(store_url, migrate_schema=True)
    yield s
    s.close()


def test_every_record_type_is_written_and_read_back(store):
    store.write([(table, row) for table, row in RECORDS.items()])
    for table, row in RECORDS.items():
        (read,) = store.rows(table)
        assert {k: read[k] for k in row} == row, table


def test_a_fresh_store_is_migrated_once_and_other_openers_only_check(store_url):
    with pytest.raises(StoreVersionError, match="its Ledger migrates"):
        Store(store_url)  # nothing migrated it yet
    Store(store_url, migrate_schema=True).record_outcomes("r", "d", [outcome("k")], 2.0)
    again = Store(store_url, migrate_schema=True)  # reopening applies nothing twice and keeps the data
    assert again.count("strategy_outcomes") == 1
    Store(store_url)  # at the head revision: a reader opens it without migrating


def test_a_store_written_by_newer_code_is_refused(store):
    with store.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    with pytest.raises(StoreVersionError, match="upgrade investiq"):
        Store(store.url, migrate_schema=True)


@pytest.mark.parametrize("legacy_version", [1, 2])
def test_a_store_from_before_alembic_is_upgraded_with_its_outcomes(store_url, legacy_version):
    engine = create_engine(store_url)
    with engine.begin() as conn:  # what the hand-written migrations 1..N left
        command.upgrade(_alembic_config(conn), f"{legacy_version:04d}")
        conn.execute(text("DROP TABLE alembic_version"))
        conn.execute(text("CREATE TABLE schema_version (version INTEGER PRIMARY KEY)"))
        conn.execute(text("INSERT INTO schema_version VALUES " + ",".join(f"({v})" for v in range(1, legacy_version + 1))))
        conn.execute(text("INSERT INTO strategy_outcomes (strategy, win, observed_at, received_at) "
                          "VALUES ('s', true, 1.0, 2.0)"))
    engine.dispose()
    upgraded = Store(store_url, migrate_schema=True)
    with upgraded.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head_revision()
    assert upgraded.strategy_evidence(now=1.0, half_life_s=None)[:2] == (None, {"s": (1.0, 0.0, 1)})
    result, _ = upgraded.record_outcomes("r", "d", [outcome("k", win=False)], 3.0)
    assert result["recorded"] == 1


def test_a_resent_request_replays_its_first_answer(store):
    first, stored = store.record_outcomes("req", "digest", [outcome("req#0"), outcome("req#1", False)], 5.0)
    again, stored_again = store.record_outcomes("req", "digest", [outcome("req#0"), outcome("req#1", False)], 6.0)
    assert first == {"recorded": 2, "duplicates": 0, "replayed": False} and len(stored) == 2
    assert again == {"recorded": 2, "duplicates": 0, "replayed": True} and stored_again == []
    assert store.count("strategy_outcomes") == 2


def test_a_request_id_reused_for_other_outcomes_is_refused_and_loses_nothing(store):
    store.record_outcomes("req", "digest-a", [outcome("req#0")], 5.0)
    with pytest.raises(Conflict, match="request_id 'req'") as error:
        store.record_outcomes("req", "digest-b", [outcome("req#0", win=False)], 6.0)
    assert error.value.loc == ("request_id",)
    assert store.strategy_evidence(now=5.0, half_life_s=None)[1] == {"s": (1.0, 0.0, 1)}


def test_an_outcome_id_reused_for_other_content_is_refused_with_nothing_of_its_request_recorded(store):
    store.record_outcomes("a", "da", [outcome("trade-1", content="win at 1")], 5.0)
    with pytest.raises(Conflict) as error:
        store.record_outcomes("b", "db", [outcome("trade-2"), outcome("trade-1", content="loss at 2")], 6.0)
    assert error.value.loc == ("outcomes", 1, "id")
    assert store.count("strategy_outcomes") == 1 and store.count("requests") == 1  # all or nothing
    result, _ = store.record_outcomes("c", "dc", [outcome("trade-1", content="win at 1"), outcome("trade-3")], 7.0)
    assert result == {"recorded": 1, "duplicates": 1, "replayed": False}  # the same trade again: a duplicate


def test_posteriors_from_the_log_equal_the_incremental_ones(store):
    rng = np.random.default_rng(3)
    events = [(str(rng.choice(["a", "b"])), bool(rng.random() < 0.6), float(t * 3600)) for t in range(60)]
    store.record_outcomes("r", "d", [outcome(f"k{i}", w, t, s) for i, (s, w, t) in enumerate(events)], 0.0)
    memory = StrategyWeights(half_life_s=DAY)
    for event in reversed(events):
        memory.update(*event)
    now = 70 * 3600.0
    _, from_log, _ = store.strategy_evidence(now, half_life_s=DAY)
    assert from_log.keys() == memory.evidence(now).keys()
    for name, (wins, losses, n) in memory.evidence(now).items():
        assert from_log[name] == (pytest.approx(wins), pytest.approx(losses), n)


def test_after_a_sync_old_outcomes_recorded_later_stay_out_of_the_posteriors(store):
    """The drift the in-memory posterior had: what a sync leaves out stays out, however it arrives."""
    now = 100 * DAY
    store.record_outcomes("r1", "d1", [outcome("old", True, now - 30 * DAY), outcome("new", False, now - DAY)], now)
    store.record_sync("sync", days=7, now=now)
    store.record_outcomes("r2", "d2", [outcome("late-old", True, now - 20 * DAY)], now)
    assert store.strategy_evidence(now, half_life_s=None)[1] == {"s": (0.0, 1.0, 1)}


def test_a_sync_resent_keeps_its_first_window(store):
    first = store.record_sync("sync", days=7, now=1000 * DAY)
    again = store.record_sync("sync", days=7, now=1001 * DAY)
    assert again == {**first, "replayed": True}
    with pytest.raises(Conflict):
        store.record_sync("sync", days=30, now=1001 * DAY)


def api_bars(timestamps, closes, high=None, low=None) -> dict:
    closes = np.asarray(closes, dtype=np.float64)
    return {"timestamps": list(timestamps), "open": list(closes), "close": list(closes), "volume": [1.0] * len(closes),
            "high": list(closes * 1.01 if high is None else high), "low": list(closes * 0.99 if low is None else low)}


def test_settling_twice_settles_once(store):
    store.write([("price_predictions", RECORDS["price_predictions"])])
    bars = api_bars(np.arange(100.0, 110.0), np.linspace(10.0, 11.0, 10))
    assert store.settle("s1", "SPY", bars, at=200.0) == {"settled": 1, "risk_settled": 0, "replayed": False}
    assert store.settle("s1", "SPY", bars, at=201.0) == {"settled": 1, "risk_settled": 0, "replayed": True}
    assert store.settle("s2", "SPY", bars, at=202.0) == {"settled": 0, "risk_settled": 0, "replayed": False}


def test_a_daily_risk_forecast_settles_with_the_range_variance_of_the_days_after_it(store):
    """Two days after the forecast's day: their Parkinson variances summed, and the close-to-close return."""
    store.write([("risk_predictions", RECORDS["risk_predictions"])])
    days = np.arange(99, 104) * DAY_S
    closes = np.array([10.0, 10.0, 10.5, 10.2, 10.4])
    high, low = closes * np.array([1.01, 1.01, 1.03, 1.02, 1.01]), closes * 0.99
    assert store.settle("r", "SPY", api_bars(days[:3], closes[:3], high[:3], low[:3]), at=1.0)["risk_settled"] == 0
    assert store.settle("r2", "SPY", api_bars(days, closes, high, low), at=2.0)["risk_settled"] == 1
    (row,) = store.rows("risk_predictions")
    parkinson = np.log(high / low) ** 2 / (4 * np.log(2))
    assert row["realised_variance"] == pytest.approx(parkinson[2] + parkinson[3])
    assert row["realised_return"] == pytest.approx(np.log(10.2 / 10.0))
    assert store.settle("r3", "SPY", api_bars(days, closes * 2, high * 2, low * 2), at=3.0)["risk_settled"] == 0


def test_acknowledged_outcomes_survive_a_crash(store_url):
    Store(store_url, migrate_schema=True)
    child = textwrap.dedent(f"""
        import os
        from store.store import Store
        from store.store import OutcomeRow
        store = Store({store_url!r})
        for i in range(50):
            store.record_outcomes(f"r{{i}}", "d", [OutcomeRow("s", i % 2 == 0, float(i), f"k{{i}}", "f")], float(i))
            print(i, flush=True)  # acknowledged
        os.kill(os.getpid(), 9)  # no clean shutdown, no close()
    """)
    proc = subprocess.run([sys.executable, "-c", child], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr
    acknowledged = len(proc.stdout.split())
    assert acknowledged == 50
    assert Store(store_url).count("strategy_outcomes") == acknowledged


def unreachable(batch):
    raise OperationalError("INSERT", {}, sqlite3.OperationalError("disk I/O error"))


def test_the_writer_keeps_rows_while_the_store_is_unreachable_and_flushes_on_close(store):
    async def scenario():
        writer = BatchedWriter(store, interval_s=3600)  # only flush() and close() write
        for i in range(3):
            writer.add("signals", {**RECORDS["signals"], "request_id": f"r{i}"})
        real_write, store.write = store.write, unreachable
        await writer.flush()
        assert len(writer.pending) == 3  # kept for the next attempt
        store.write = real_write
        await writer.close()

    asyncio.run(scenario())
    assert [r["request_id"] for r in store.rows("signals")] == ["r0", "r1", "r2"]


def test_the_writer_sets_a_permanently_bad_row_aside_and_writes_the_rest(store):
    refused = []

    async def scenario():
        writer = BatchedWriter(store, interval_s=3600, on_set_aside=refused.append)
        writer.add("signals", {**RECORDS["signals"], "request_id": "before"})
        writer.add("signals", {**RECORDS["signals"], "request_id": "bad", "decision": None})  # NOT NULL
        writer.add("price_predictions", RECORDS["price_predictions"])
        await writer.flush()
        assert writer.pending == [] and writer.set_aside == {"signals": 1}
        writer.add("signals", {**RECORDS["signals"], "request_id": "after"})
        await writer.close()

    asyncio.run(scenario())
    assert [r["request_id"] for r in store.rows("signals")] == ["before", "after"]
    assert store.count("price_predictions") == 1 and refused == ["signals"]


def test_the_writer_bounds_what_waits_for_an_unreachable_store(store):
    async def scenario():
        writer = BatchedWriter(store, interval_s=3600, max_pending=5)
        for i in range(8):
            writer.add("signals", {**RECORDS["signals"], "request_id": f"r{i}"})
        await writer.close()
        return writer.dropped

    assert asyncio.run(scenario()) == 3
    assert [r["request_id"] for r in store.rows("signals")] == ["r3", "r4", "r5", "r6", "r7"]


def test_two_ledgers_racing_on_one_request_id_record_one_and_refuse_or_replay_the_other(store_url):
    """An old and a new Ledger while Serve replaces one: two stores on one database."""
    import threading

    stores = [Store(store_url, migrate_schema=True), Store(store_url)]
    for round_, contents in enumerate((("same", "same"), ("win", "loss"))):
        request_id, barrier, answers = f"race-{round_}", threading.Barrier(2), [None, None]

        def send(i: int) -> None:
            barrier.wait()
            win = contents[i] != "loss"
            try:
                answers[i] = stores[i].record_outcomes(request_id, contents[i], [outcome(f"{request_id}#0", win)],
                                                       1.0)[0]
            except Conflict as exc:
                answers[i] = exc

        threads = [threading.Thread(target=send, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        recorded = [a for a in answers if isinstance(a, dict) and not a["replayed"]]
        assert len(recorded) == 1 and recorded[0]["recorded"] == 1, answers
        other = answers[1 - answers.index(recorded[0])]
        if contents[0] == contents[1]:
            assert other == {**recorded[0], "replayed": True}
        else:
            assert isinstance(other, Conflict)
        keys = [r["idempotency_key"] for r in stores[0].rows("strategy_outcomes")]
        assert keys.count(f"{request_id}#0") == 1


def test_evidence_a_thousand_half_lives_old_weighs_nothing_and_raises_nothing(store):
    """PostgreSQL's exp() raises on underflow where Python's returns 0: the sum must never ask it to
    (on SQLite, exp() is made to raise as PostgreSQL's does)."""
    def exp_like_postgresql(x: float) -> float:
        if x < -708:
            raise ValueError("value out of range: underflow")
        return math.exp(x)

    if store.engine.dialect.name == "sqlite":
        store.engine.dispose()
        event.listen(store.engine, "connect",
                     lambda dbapi, _: dbapi.create_function("exp", 1, exp_like_postgresql, deterministic=True))
    now = 100 * 365 * DAY
    store.record_outcomes("r", "d", [outcome("ancient", True, 0.0), outcome("recent", False, now - DAY)], now)
    _, evidence, _ = store.strategy_evidence(now, half_life_s=DAY)
    assert evidence == {"s": (0.0, pytest.approx(0.5), 2)}


def test_expected_payoff_ranks_a_40_percent_strategy_at_3r_above_a_55_percent_one_at_1r(store):
    from models.strategy_weights import summarise

    rows = [OutcomeRow("trend", i % 5 < 2, 1.0, f"t{i}", "f", 3.0 if i % 5 < 2 else -1.0) for i in range(100)]
    rows += [OutcomeRow("scalp", i % 20 < 11, 1.0, f"s{i}", "f", 1.0 if i % 20 < 11 else -1.0) for i in range(100)]
    rows += [OutcomeRow("silent", True, 1.0, "n0", "f")]  # no R multiple sent
    store.record_outcomes("r", "d", rows, 1.0)
    _, evidence, payoffs = store.strategy_evidence(now=1.0, half_life_s=None)
    served = {p.strategy: p for p in summarise(evidence, payoffs=payoffs)}
    assert served["trend"].expected_r == pytest.approx(0.4 * 3 - 0.6) and served["trend"].r_outcomes == 100
    assert served["scalp"].expected_r == pytest.approx(0.55 - 0.45)
    assert served["scalp"].mean > served["trend"].mean  # the win rate alone ranks them the other way
    assert served["silent"].expected_r is None and served["silent"].r_outcomes == 0
    assert served["trend"].probability_best_r > 0.95  # what a trade earns ...
    assert served["scalp"].probability_best > served["trend"].probability_best  # ... not how often it wins
    assert served["silent"].probability_best_r is None
    # The interval is the mean's: about 1.66 standard errors of 100 equally weighted outcomes.
    trend_r = np.array([3.0 if i % 5 < 2 else -1.0 for i in range(100)])
    half = 1.66 * np.sqrt((((trend_r - trend_r.mean()) ** 2).sum() + 1) / 100 / 100)
    assert served["trend"].expected_r_lower == pytest.approx(0.6 - half, abs=0.01)
    assert served["trend"].expected_r_upper == pytest.approx(0.6 + half, abs=0.01)


def test_decay_shrinks_the_effective_sample_behind_the_payoff_interval(store):
    from models.strategy_weights import summarise

    rows = [OutcomeRow("s", i % 2 == 0, i * DAY, f"o{i}", "f", 1.0 if i % 2 == 0 else -1.0) for i in range(60)]
    store.record_outcomes("r", "d", rows, 60 * DAY)
    widths = {}
    for half_life in (None, 5 * DAY):
        _, evidence, payoffs = store.strategy_evidence(now=60 * DAY, half_life_s=half_life)
        (p,) = summarise(evidence, payoffs=payoffs)
        widths[half_life] = p.expected_r_upper - p.expected_r_lower
    assert widths[5 * DAY] > 1.5 * widths[None]


def test_small_samples_get_no_payoff_interval_and_identical_payoffs_a_wide_one(store):
    from models.strategy_weights import summarise

    rows = [OutcomeRow("lucky", True, 1.0, f"l{i}", "f", 2.0) for i in range(2)]
    rows += [OutcomeRow("fixed", True, 1.0, f"f{i}", "f", 2.0) for i in range(6)]
    rows += [OutcomeRow("steady", i % 2 == 0, 1.0, f"s{i}", "f", 3.0 if i % 2 == 0 else -1.0) for i in range(100)]
    store.record_outcomes("r", "d", rows, 1.0)
    _, evidence, payoffs = store.strategy_evidence(now=1.0, half_life_s=None)
    served = {p.strategy: p for p in summarise(evidence, payoffs=payoffs)}
    lucky, fixed, steady = served["lucky"], served["fixed"], served["steady"]
    assert lucky.expected_r == 2.0 and lucky.expected_r_lower is None and lucky.probability_best_r is None
    assert fixed.expected_r_upper - fixed.expected_r_lower > 0.5  # six times +2R: still not certain
    assert steady.expected_r == pytest.approx(1.0) and 0 < steady.probability_best_r < fixed.probability_best_r < 1


def test_a_store_url_of_another_dialect_is_refused_in_one_line():
    with pytest.raises(ValueError, match="SQLite and PostgreSQL only") as error:
        Store("mysql://user:secret@host/db", migrate_schema=True)
    assert "secret" not in str(error.value) and "\n" not in str(error.value)


def test_an_intraday_risk_forecast_settles_without_the_overnight_gap(store):
    """Horizon 2 from the day's last bar: the next day's first bar moves from its own open (the
    gap from the last close is not intraday variance), its second from that close."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    eastern = ZoneInfo("America/New_York")
    stamps = [datetime(2025, 6, 2, 15, 50, tzinfo=eastern), datetime(2025, 6, 2, 15, 55, tzinfo=eastern),
              datetime(2025, 6, 3, 9, 30, tzinfo=eastern), datetime(2025, 6, 3, 9, 35, tzinfo=eastern)]
    closes, opens = [100.0, 100.5, 103.0, 102.0], [100.0, 100.0, 102.0, 103.0]
    bars = {"timestamps": [t.timestamp() for t in stamps], "open": opens, "close": closes,
            "high": [max(o, c) for o, c in zip(opens, closes)], "low": [min(o, c) for o, c in zip(opens, closes)],
            "volume": [1.0] * 4}
    store.write([("risk_predictions", {**RECORDS["risk_predictions"], "as_of": stamps[1].timestamp(),
                                       "last_close": 100.5})])
    assert store.settle("r", "SPY", bars, at=1.0)["risk_settled"] == 1
    (row,) = store.rows("risk_predictions")
    assert row["realised_variance"] == pytest.approx(np.log(103 / 102) ** 2 + np.log(102 / 103) ** 2)
    assert row["realised_return"] == pytest.approx(np.log(102 / 100.5))  # the return keeps the gap
