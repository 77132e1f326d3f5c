import json

import pandas as pd
import pytest

from deployments.schemas import SignalRequest
from models.registry import ModelRegistry
from models.session import session_error
from tests.support import free_port, make_tiny_price_model, random_walk_bars, random_walk_frame
from training.cli import build_parser, main


def test_request_body_is_a_valid_signal_request(tmp_path, capsys):
    bars = random_walk_bars(40)
    random_walk_frame(40).to_csv(tmp_path / "bars.csv")
    main(["request", "--symbol", "SPY", "--bars", str(tmp_path / "bars.csv"), "--last", "20", "--session", "all",
          "--news", "shares rose", "--outcome", "momentum:win", "--outcome", "mean_rev:loss"])
    request = SignalRequest.model_validate(json.loads(capsys.readouterr().out))
    assert len(request.bars.close) == 20 and request.bars.close[-1] == pytest.approx(bars["close"][-1])
    assert [o.outcome for o in request.outcomes] == ["win", "loss"]


def test_request_sends_only_session_bars_with_their_zone(tmp_path, capsys):
    """The CSV holds extended hours in naive US/Eastern time; a regular-session model gets
    09:30-15:55 with the offset, which the server's own session check accepts."""
    frame = random_walk_frame(2 * 192)  # two days of 5-minute bars from 04:00 to 19:55
    frame.index = pd.DatetimeIndex([t for day in ("2025-06-16", "2025-06-17")
                                    for t in pd.date_range(f"{day} 04:00", periods=192, freq="5min")], name="timestamp")
    frame.to_csv(tmp_path / "bars.csv")
    main(["request", "--symbol", "spy", "--bars", str(tmp_path / "bars.csv"), "--last", "100"])
    body = json.loads(capsys.readouterr().out)
    stamps = body["bars"]["timestamps"]
    assert len(stamps) == 100 and stamps[-1] == "2025-06-17T15:55:00-04:00" and "2025-06-17T09:30:00-04:00" in stamps
    request = SignalRequest.model_validate(body)
    assert request.symbol == "SPY"
    epochs = [t.timestamp() for t in request.bars.timestamps]
    assert session_error(epochs, "regular") is None
    assert "outside the session" in session_error([e - 6 * 3600 for e in epochs], "regular")


@pytest.mark.parametrize("command", ["data", "train", "tune", "retrain", "models", "promote", "rollback", "request",
                                     "train-volatility"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0 and "usage: investiq" in capsys.readouterr().out


def test_train_volatility_writes_a_patchtst_model_directory(tmp_path, capsys):
    from models.volatility_model import VolatilityModel

    random_walk_frame(900, seed=2).to_csv(tmp_path / "bars.csv")
    main(["train-volatility", "--forecaster", "patchtst", "--bars", str(tmp_path / "bars.csv"), "--out",
          str(tmp_path / "vol"), "--horizons", "1", "4", "--context-length", "32", "--max-epochs", "1",
          "--version", "v"])
    summary = json.loads(capsys.readouterr().out)
    assert summary["horizons"] == [1, 4] and set(summary["test"]) == {"h1", "h4"}
    assert set(summary["test"]["h1"]) == {"model", "unconditional", "har", "ewma"}
    assert VolatilityModel.load(tmp_path / "vol", prefer_gpu=False).metadata.version == "v"


def test_har_volatility_models_go_through_a_registry_its_gate_and_a_rollback(tmp_path, capsys):
    """HAR passes the gate as its own benchmark; the listing shows each version's test QLIKE."""
    random_walk_frame(3000, seed=2).to_csv(tmp_path / "bars.csv")
    registry = str(tmp_path / "volatility")
    for version in ("a", "b"):
        main(["train-volatility", "--bars", str(tmp_path / "bars.csv"), "--registry", registry, "--promote",
              "--version", version])
        decision = json.loads(capsys.readouterr().out)["decision"]
        assert decision["promoted"] and decision["reasons"] == ["the candidate is HAR itself on every horizon's "
                                                                "test windows"]
    main(["models", "--registry", registry])
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("  a  forecaster=har  horizons=[12, 78]  bars=300s")
    assert listing[1].startswith("* b ") and "gate=promoted" in listing[1] and "h12 " in listing[1]
    main(["rollback", "--registry", registry])
    assert "production is back to a" in capsys.readouterr().out


def test_train_into_a_registry_then_list_promote_and_roll_back(tmp_path, capsys):
    random_walk_frame(900, seed=2).to_csv(tmp_path / "bars.csv")
    tiny = ["--context-length", "32", "--horizon", "4", "--patch-length", "8", "--patch-stride", "8",
            "--d-model", "8", "--num-attention-heads", "2", "--num-hidden-layers", "1", "--ffn-dim", "16",
            "--max-epochs", "1"]
    registry = str(tmp_path / "registry")
    for version in ("a", "b"):
        main(["train", "--bars", str(tmp_path / "bars.csv"), "--registry", registry, "--promote",
              "--version", version, *tiny])
        # a tiny model on a random walk may be worse than the base rate, which the gate refuses: by hand
        main(["promote", "--registry", registry, "--version", version])
    capsys.readouterr()
    main(["models", "--registry", registry])
    listing = capsys.readouterr().out.splitlines()
    assert listing[0].startswith("  a ") and listing[1].startswith("* b ")
    main(["rollback", "--registry", registry])
    assert "back to a" in capsys.readouterr().out
    main(["promote", "--registry", registry, "--version", "b"])
    assert "production is now b" in capsys.readouterr().out


@pytest.fixture
def registry(tmp_path):
    registry = ModelRegistry(tmp_path / "registry")
    for version in ("a", "b"):
        registry.publish(make_tiny_price_model(tmp_path / version, version), version)
    return registry


def fails_in_one_line(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    message = exit_.value.code
    assert isinstance(message, str) and "\n" not in message and "Traceback" not in message
    return message


def test_a_promotion_the_graph_cannot_hear_leaves_the_pointer_where_it_was(registry):
    root = str(registry.root)
    main(["promote", "--registry", root, "--version", "a"])
    down = f"http://127.0.0.1:{free_port()}"  # no dashboard listens there: the graph is down
    message = fails_in_one_line(["promote", "--registry", root, "--version", "b", "--serve-address", down])
    assert message.startswith("investiq promote: the graph cannot take b: no Ray dashboard answers at " + down)
    assert "production stays a" in message and message.endswith("then promote again")
    assert registry.production() == "a"
    assert [d["action"] for d in registry.decisions()] == ["promote"]  # the pointer never moved

    main(["promote", "--registry", root, "--version", "b"])
    message = fails_in_one_line(["rollback", "--registry", root, "--serve-address", down])
    assert message.startswith("investiq rollback: the graph cannot take a:") and "production stays b" in message
    assert registry.production() == "b"


def test_promotion_is_idempotent_and_errors_say_what_to_do(registry, capsys):
    root = str(registry.root)
    message = fails_in_one_line(["rollback", "--registry", root])
    assert message.startswith("investiq rollback: nothing to roll back to") and "investiq promote --version" in message
    assert fails_in_one_line(["promote", "--registry", root, "--version", "v9"]) == (
        f"investiq promote: no model version 'v9' in {root}")
    for version in ("a", "b", "b"):
        main(["promote", "--registry", root, "--version", version])
    assert "pass --serve-address to move the graph too" in capsys.readouterr().out
    assert [d["version"] for d in registry.decisions()] == ["a", "b"]  # promoting production again changes nothing
    main(["rollback", "--registry", root])
    assert registry.production() == "a"
    fails_in_one_line(["rollback", "--registry", root])  # b was in the history once, not twice
