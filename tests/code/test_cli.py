import json

import pandas as pd
import pytest

from deployments.schemas import SignalRequest
from tests.conftest import random_walk_bars
from training.cli import build_parser, main


def test_request_body_is_a_valid_signal_request(tmp_path, capsys):
    bars = random_walk_bars(40)
    frame = pd.DataFrame({k: bars[k] for k in ("open", "high", "low", "close", "volume")},
                         index=pd.to_datetime(bars["timestamps"], unit="s").rename("datetime"))
    frame.to_csv(tmp_path / "bars.csv")
    main(["request", "--symbol", "SPY", "--bars", str(tmp_path / "bars.csv"), "--last", "20",
          "--news", "shares rose", "--outcome", "momentum:win", "--outcome", "mean_rev:loss"])
    request = SignalRequest.model_validate(json.loads(capsys.readouterr().out))
    assert len(request.bars.close) == 20 and request.bars.close[-1] == pytest.approx(bars["close"][-1])
    assert [o.outcome for o in request.outcomes] == ["win", "loss"]


@pytest.mark.parametrize("command", ["train", "request"])
def test_every_subcommand_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_:
        build_parser().parse_args([command, "--help"])
    assert exit_.value.code == 0 and "usage: investiq" in capsys.readouterr().out
