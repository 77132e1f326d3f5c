"""The store: every record type round-trips, migrations run once, acknowledged outcomes
survive a crash, and the batched writer loses nothing on close."""

import asyncio
import subprocess
import sys
import textwrap

import pytest
from sqlalchemy import insert

from store import Store
from store.schema import MIGRATIONS, schema_version
from store.store import sqlite_url
from store.writer import BatchedWriter
from tests.support import PROJECT_ROOT

RECORDS = {
    "signals": {"request_id": "r1", "symbol": "SPY", "created_at": 1.0, "decision": "BUY", "score": 0.4,
                "confidence": 0.4, "shadow": True, "model_versions": {"price": "patchtst@v1"},
                "components": {"sentiment": 0.2, "price": {"up": 0.6, "flat": 0.2, "down": 0.2}, "degraded": []}},
    "sentiment_predictions": {"request_id": "r1", "created_at": 1.0, "model_version": "finbert@abc",
                              "text_sha256": "0" * 64, "label": "positive", "score": 0.7},
    "price_predictions": {"request_id": "r1", "symbol": "SPY", "created_at": 1.0, "as_of": 100.0,
                          "last_close": 10.0, "horizon": 4, "flat_band_bp": 5.0, "model_version": "patchtst@v1",
                          "p_up": 0.6, "p_flat": 0.2, "p_down": 0.2},
    "model_promotions": {"deployment": "price", "model_id": "patchtst", "version": "v1", "source": "/m/v1",
                         "at": 2.0},
}


@pytest.fixture
def store(tmp_path):
    s = Store(sqlite_url(tmp_path))
    yield s
    s.close()


def test_every_record_type_is_written_and_read_back(store):
    store.write([(table, row) for table, row in RECORDS.items()])
    for table, row in RECORDS.items():
        (read,) = store.rows(table)
        assert {k: read[k] for k in row} == row, table
    store.append_outcomes([("momentum", True, 10.0, None), ("momentum", False, 20.0, "k1")], received_at=30.0)
    assert list(store.outcomes()) == [("momentum", True, 10.0), ("momentum", False, 20.0)]
    assert list(store.outcomes(since=15.0)) == [("momentum", False, 20.0)]
    assert store.sync_window_start() is None
    store.record_sync(since=15.0, at=31.0)
    assert store.sync_window_start() == 15.0


def test_migrations_run_once_and_a_newer_store_is_refused(tmp_path):
    url = sqlite_url(tmp_path)
    assert Store(url).schema_version == len(MIGRATIONS)
    again = Store(url)  # reopening applies nothing twice
    assert again.count("schema_version") == len(MIGRATIONS)
    with again.engine.begin() as conn:
        conn.execute(insert(schema_version).values(version=len(MIGRATIONS) + 1))
    with pytest.raises(RuntimeError, match="upgrade investiq"):
        Store(url)


def test_acknowledged_outcomes_survive_a_crash_of_the_writer(tmp_path):
    url = sqlite_url(tmp_path)
    child = textwrap.dedent(f"""
        import os, sys
        from store import Store
        store = Store({url!r})
        for i in range(50):
            store.append_outcomes([("s", i % 2 == 0, float(i), "k" + str(i))], received_at=float(i))
            print(i, flush=True)  # acknowledged
        os.kill(os.getpid(), 9)  # no clean shutdown, no close()
    """)
    proc = subprocess.run([sys.executable, "-c", child], cwd=PROJECT_ROOT, capture_output=True, text=True,
                          timeout=120)
    assert proc.returncode == -9, proc.stderr
    acknowledged = len(proc.stdout.split())
    assert acknowledged == 50
    assert len(list(Store(url).outcomes())) == acknowledged


def test_batched_writer_flushes_on_close_and_keeps_rows_a_failed_write_did_not_store(store):
    async def scenario():
        writer = BatchedWriter(store, interval_s=3600)  # only close() writes
        for i in range(3):
            writer.add("signals", {**RECORDS["signals"], "request_id": f"r{i}"})
        assert store.count("signals") == 0
        real_write = store.write
        store.write = lambda batch: (_ for _ in ()).throw(OSError("disk gone"))
        await writer.flush()
        assert len(writer.pending) == 3  # kept for the next attempt
        store.write = real_write
        await writer.close()

    asyncio.run(scenario())
    assert [r["request_id"] for r in store.rows("signals")] == ["r0", "r1", "r2"]


def test_an_outcome_key_is_counted_once(store):
    first = store.append_outcomes([("s", True, 1.0, "trade-1"), ("s", False, 2.0, None)], received_at=3.0)
    assert first == [("s", True, 1.0), ("s", False, 2.0)]
    again = store.append_outcomes([("s", True, 1.0, "trade-1"), ("s", True, 4.0, "trade-2")], received_at=5.0)
    assert again == [("s", True, 4.0)]
    assert len(list(store.outcomes())) == 3


def test_a_version_1_store_is_migrated_with_its_outcomes(tmp_path):
    url = sqlite_url(tmp_path)
    old = Store(url)
    old.append_outcomes([("s", True, 1.0, None)], received_at=2.0)
    with old.engine.begin() as conn:  # back to what migration 1 alone made
        conn.exec_driver_sql("DROP INDEX strategy_outcomes_idempotency_key")
        conn.exec_driver_sql("ALTER TABLE strategy_outcomes DROP COLUMN idempotency_key")
        conn.exec_driver_sql("DELETE FROM schema_version WHERE version > 1")
    old.close()
    upgraded = Store(url)
    assert upgraded.schema_version == 2 and upgraded.count("schema_version") == 2
    assert list(upgraded.outcomes()) == [("s", True, 1.0)]
    upgraded.append_outcomes([("s", False, 3.0, "k")], received_at=4.0)
    assert upgraded.append_outcomes([("s", False, 3.0, "k")], received_at=5.0) == []


def test_the_writer_bounds_what_waits_for_an_unreachable_store(store):
    async def scenario():
        writer = BatchedWriter(store, interval_s=3600, max_pending=5)
        for i in range(8):
            writer.add("signals", {**RECORDS["signals"], "request_id": f"r{i}"})
        await writer.close()
        return writer.dropped

    assert asyncio.run(scenario()) == 3
    assert [r["request_id"] for r in store.rows("signals")] == ["r3", "r4", "r5", "r6", "r7"]
