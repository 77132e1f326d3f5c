"""The strategies answer the Ledger serves (summarise over the store's decayed evidence)
follows a switch of the best strategy at the default half-life, and is not a random draw."""

from models.strategy_weights import summarise
from store.store import OutcomeRow, Store, sqlite_url

HOUR = 3600.0
HALF_LIFE_S = 7 * 24 * HOUR  # ledger.strategies.half_life_days default
WINS_60, WINS_40 = (1, 1, 1, 0, 0), (1, 1, 0, 0, 0)  # 60 % and 40 % win rates, deterministic


def served_p_best(store: Store, now: float) -> dict[str, float]:
    return {p.strategy: p.probability_best for p in summarise(store.strategy_evidence(now, HALF_LIFE_S)[1])}


def test_after_a_switch_p_best_moves_to_the_new_best_within_a_half_life_of_outcomes(tmp_path):
    """Four weeks of one outcome per strategy per hour with A at 60 % and B at 40 %, then
    they swap: the served P(best) of B passes 0.5 within 168 outcomes of each (one half-life
    at this rate) and 0.9 within 252 (one and a half)."""
    store = Store(sqlite_url(tmp_path), migrate_schema=True)
    before = 28 * 24
    store.record_outcomes("history", "d", [
        OutcomeRow(name, bool(wins[i % 5]), i * HOUR, f"{name}{i}", "f")
        for i in range(before) for name, wins in (("a", WINS_60), ("b", WINS_40))], before * HOUR)
    assert served_p_best(store, before * HOUR)["a"] > 0.99
    passed = {}
    for j in range(1, 253):
        now = (before + j) * HOUR
        store.record_outcomes(f"after-{j}", "d", [OutcomeRow(name, bool(wins[j % 5]), now, f"{name}{before + j}", "f")
                                                  for name, wins in (("a", WINS_40), ("b", WINS_60))], now)
        p_best = served_p_best(store, now)["b"]
        for level in (0.5, 0.9):
            if p_best > level:
                passed.setdefault(level, j)
    assert passed[0.5] <= 168 and passed[0.9] <= 252, passed
    assert served_p_best(store, now) == served_p_best(store, now)  # the same evidence, the same answer
