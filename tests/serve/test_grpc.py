"""The gRPC API (deployments/proto/signals.proto) through Serve's gRPC proxy, on the real graph
(tiny models): the signals HTTP gives, the same refusals as gRPC statuses naming the field,
idempotent outcomes, and the API key as metadata."""

import uuid

import grpc
import pytest
from google.protobuf import json_format

from deployments.proto import signals_pb2 as pb
from deployments.proto.signals_pb2_grpc import SignalServiceStub
from tests.serve.conftest import APP
from tests.serve.test_watchlist import assert_same, entry
from tests.support import TINY_CONTEXT, random_walk_bars


@pytest.fixture(scope="module")
def stub(client, grpc_port):
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        yield SignalServiceStub(channel)


def call(rpc, message, app: str = APP, key: str | None = None):
    metadata = [("application", app)] + ([("x-api-key", key)] if key else [])
    return rpc(message, metadata=metadata, timeout=30)


def refused(rpc, message, **kw) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as info:
        call(rpc, message, **kw)
    return info.value


def as_message(body: dict, message):
    return json_format.ParseDict(body, message)


def from_json(answer: dict):
    """The HTTP answer read into proto by protobuf's own json_format (the server builds its
    answers another way), `out_of_distribution` in its InputShifts wrapper."""
    def wrapped(value):
        if isinstance(value, dict):
            return {k: {"shifts": v} if k == "out_of_distribution" and v is not None else wrapped(v)
                    for k, v in value.items()}
        return [wrapped(v) for v in value] if isinstance(value, list) else value

    return json_format.ParseDict(wrapped(answer), pb.SignalsResponse())


def comparable(response) -> dict:
    """What two answers to the same inputs share (not the ids, timings or as-of times)."""
    answer = json_format.MessageToDict(response, preserving_proto_field_name=True)
    for signal in answer["signals"]:
        for volatile in ("request_id", "latency_ms"):
            signal.pop(volatile)
        signal["strategies"].pop("as_of")
    return answer["signals"]


def test_a_watchlist_over_grpc_gets_the_signals_http_gives(client, stub):
    # Seeds of their own: texts other tests score are not in the sentiment cache from here.
    entries = [entry(21), entry(22, news=[]), entry(23, bars=None)]
    http = client.post("/v1/signals", json={"signals": entries})
    assert http.status_code == 200, http.text
    answer = call(stub.Signals, as_message({"signals": entries}, pb.SignalsRequest()))
    assert [s.symbol for s in answer.signals] == ["W21", "W22", "W23"]
    expected = http.json()
    assert_same(comparable(answer), comparable(from_json(expected)), "signals")
    # Field by field against the JSON itself, presence included (null in JSON: absent in proto).
    for got, want in zip(answer.signals, expected["signals"]):
        assert got.decision == want["decision"] and got.actionable == want["actionable"]
        assert got.score == pytest.approx(want["score"], abs=1e-5)
        assert got.HasField("price") == (want["price"] is not None)
        assert got.HasField("sentiment") == (want["sentiment"] is not None)
        if want["price"]:
            assert dict(got.price.probabilities) == pytest.approx(want["price"]["probabilities"], abs=1e-5)
            assert got.price.HasField("threshold") == (want["price"]["threshold"] is not None)
            shifts = want["price"]["out_of_distribution"]
            assert got.price.HasField("out_of_distribution") == (shifts is not None)
        if want["risk"]:
            assert [h.horizon for h in got.risk.horizons] == [h["horizon"] for h in want["risk"]["horizons"]]
            assert [h.var_99 for h in got.risk.horizons] == pytest.approx(
                [h["var_99"] for h in want["risk"]["horizons"]], rel=1e-5)
            assert got.expected_move == pytest.approx(want["expected_move"], rel=1e-5)
        assert [(p.strategy, p.outcomes) for p in got.strategies.strategies] == \
            [(p["strategy"], p["outcomes"]) for p in want["strategies"]["strategies"]]
        assert [d.branch for d in got.degraded] == [d["branch"] for d in want["degraded"]]
    assert set(answer.latency_ms) == {"sentiment", "price", "volatility", "strategies", "total"}


def test_a_single_signal_over_grpc(client, stub):
    bars = random_walk_bars(TINY_CONTEXT + 1)
    answer = call(stub.Signal, as_message({"symbol": " spy ", "news": ["shares rose"], "bars": bars}, pb.SignalRequest()))
    assert answer.symbol == "SPY" and answer.decision in ("BUY", "SELL", "HOLD")
    assert answer.HasField("price") and answer.HasField("sentiment") and answer.HasField("risk")
    assert not answer.degraded, answer.degraded


def test_bad_input_over_grpc_is_invalid_argument_naming_the_field(client, stub):
    bars = random_walk_bars(TINY_CONTEXT + 1)
    bars["high"][3] = bars["low"][3] / 2
    error = refused(stub.Signals, as_message({"signals": [entry(1), {"symbol": "BAD", "bars": bars}]},
                                             pb.SignalsRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("signals[1].bars: ") and "high[3] is below" in error.details()

    too_many = {"signals": [{"symbol": f"S{i}"} for i in range(5)]}  # the session allows 4
    error = refused(stub.Signals, as_message(too_many, pb.SignalsRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "signals: at most 4 entries, got 5"

    error = refused(stub.Signal, pb.SignalRequest(symbol="SPY", news=["x" * 70_000]))  # the session's limit: 65536
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details() == "request over 65536 bytes"

    error = refused(stub.Signal, as_message({"symbol": "SPY", "outcomes": [{"strategy": "momentum",
                                                                            "outcome": "draw"}]}, pb.SignalRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and error.details().startswith("outcomes[0].outcome: ")

    # 513 bad prices: the first five named, the rest counted (gRPC refuses details over 16 KB).
    bars = random_walk_bars(TINY_CONTEXT + 1)
    bars["close"] = [-1.0] * len(bars["close"])
    error = refused(stub.Signal, as_message({"symbol": "SPY", "bars": bars}, pb.SignalRequest()))
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("bars.close[0]: ") and error.details().endswith(f"; and {len(bars['close']) - 5} more")


def test_outcomes_over_grpc_are_recorded_once_and_a_reused_id_is_refused(client, stub):
    request_id = f"grpc-{uuid.uuid4().hex[:8]}"
    body = {"symbol": "SPY", "request_id": request_id,
            "outcomes": [{"strategy": "momentum", "outcome": "win", "id": f"{request_id}-1"}]}

    def momentum_outcomes() -> int:
        weights = client.get("/v1/strategies/weights").json()["strategies"]
        return next((s["outcomes"] for s in weights if s["strategy"] == "momentum"), 0)

    before = momentum_outcomes()
    first = call(stub.Signal, as_message(body, pb.SignalRequest()))
    again = call(stub.Signal, as_message(body, pb.SignalRequest()))
    assert first.request_id == again.request_id == request_id
    assert first.outcomes_recorded == again.outcomes_recorded == 1
    assert momentum_outcomes() == before + 1
    body["outcomes"][0]["outcome"] = "loss"
    error = refused(stub.Signal, as_message(body, pb.SignalRequest()))
    assert error.code() == grpc.StatusCode.ALREADY_EXISTS and request_id in error.details()
    assert momentum_outcomes() == before + 1


def test_the_key_and_shadow_mode_hold_over_grpc(http, stub):
    """An ingress with INVESTIQ_API_KEY, in shadow mode, over failing branches (the checks come first)."""
    from ray import serve

    from deployments.config import IngressConfig
    from deployments.ingress import SignalIngress
    from tests.serve.fakes import FailingBranch
    from tests.support import wait_until

    failing = FailingBranch.bind()
    options = {"ray_actor_options": {"num_cpus": 0.05, "runtime_env": {"env_vars": {"INVESTIQ_API_KEY": "s3cret"}}}}
    serve.run(SignalIngress.options(**options).bind(failing, failing, failing, failing, IngressConfig(shadow=True)),
              name="grpc-keyed", route_prefix="/grpc-keyed")
    wait_until(lambda: http.get("/grpc-keyed/healthz").status_code == 200, 60, "keyed app up")
    try:
        message = pb.SignalsRequest(signals=[pb.SymbolInputs(symbol="SPY"), pb.SymbolInputs(
            symbol="QQQ", outcomes=[pb.StrategyOutcome(strategy="s", outcome="win")])])
        for key in (None, "wrong"):
            error = refused(stub.Signals, message, app="grpc-keyed", key=key)
            assert error.code() == grpc.StatusCode.UNAUTHENTICATED and error.details().startswith("x-api-key: ")
        # With the key the request gets past the check, to a Ledger that fails: nothing recorded.
        answer = call(stub.Signals, message, app="grpc-keyed", key="s3cret")
        assert answer.signals[1].outcomes_recorded == 0
        assert "strategies" in {d.branch for d in answer.signals[1].degraded}
        assert call(stub.Signal, pb.SignalRequest(symbol="SPY", news=["x"]), app="grpc-keyed").shadow
        # A request may ask for shadow, never turn it off.
        error = refused(stub.Signal, pb.SignalRequest(symbol="SPY", shadow=False), app="grpc-keyed")
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED and error.details().startswith("shadow: ")
    finally:
        serve.delete("grpc-keyed")


def test_the_builder_refuses_a_grpc_proxy_without_a_key(client, graph_config, monkeypatch):
    """The session's Serve runs a gRPC proxy, which Ray binds on every interface."""
    from graph import build_app, serve_proxies

    monkeypatch.delenv(graph_config.ingress.api_key_env, raising=False)
    assert serve_proxies() == ("127.0.0.1", True)
    closed = graph_config.model_copy(update={"ingress": graph_config.ingress.model_copy(
        update={"allow_unauthenticated": False})})
    with pytest.raises(ValueError, match="gRPC proxy listens on every interface"):
        build_app(closed)


def raw_call(grpc_port: int, method: str, raw: bytes, response_type):
    """A method called with bytes as they are, as a client of another version might send them."""
    with grpc.insecure_channel(f"127.0.0.1:{grpc_port}") as channel:
        rpc = channel.unary_unary(f"/investiq.v1.SignalService/{method}", request_serializer=None,
                                  response_deserializer=response_type.FromString)
        with pytest.raises(grpc.RpcError) as info:
            rpc(raw, metadata=[("application", APP)], timeout=30)
    return info.value


def test_a_malformed_or_unknown_message_is_invalid_argument(client, grpc_port):
    error = raw_call(grpc_port, "Signals", b"\xff\xff\xff", pb.SignalsResponse)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("not a valid investiq.v1.SignalsRequest")
    bad_utf8 = b"\x12\x03\xff\xfe\xfd"  # news[0] (field 2) is not UTF-8
    error = raw_call(grpc_port, "Signal", pb.SignalRequest(symbol="SPY").SerializeToString() + bad_utf8,
                     pb.SignalResponse)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT and "UTF-8" in error.details()
    # An outcome with a field this version lacks (number 99) would lose it: refused, naming where.
    outcome = pb.StrategyOutcome(strategy="momentum", outcome="win").SerializeToString() + b"\x98\x06\x01"
    entry_bytes = pb.SymbolInputs(symbol="SPY").SerializeToString() + b"\x1a" + bytes([len(outcome)]) + outcome
    error = raw_call(grpc_port, "Signals", b"\x0a" + bytes([len(entry_bytes)]) + entry_bytes, pb.SignalsResponse)
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert error.details().startswith("signals[0].outcomes[0] has field number 99")


def test_serves_grpc_proxy_reads_no_message_over_its_limit(client, stub):
    """Past RAY_SERVE_GRPC_MAX_MESSAGE_SIZE (4 MB, as make serve sets it) the proxy refuses the
    message itself (gRPC's own limit on a received message): it never reaches the ingress."""
    error = refused(stub.Signal, pb.SignalRequest(symbol="SPY", news=["x" * 4_100_000]))
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()


def test_a_failure_of_the_ingress_is_internal_without_its_text(http, stub):
    """A Ledger answer the ingress cannot use: HTTP answers 500, gRPC INTERNAL with a fixed text."""
    from ray import serve

    from deployments.config import IngressConfig
    from deployments.ingress import INTERNAL_ERROR, SignalIngress
    from tests.serve.fakes import FailingBranch, GarbledLedger
    from tests.support import wait_until

    failing = FailingBranch.bind()
    serve.run(SignalIngress.options(ray_actor_options={"num_cpus": 0.05}).bind(
        failing, failing, failing, GarbledLedger.bind(), IngressConfig(shadow=False)),
        name="grpc-garbled", route_prefix="/grpc-garbled")
    wait_until(lambda: http.get("/grpc-garbled/healthz").status_code == 200, 60, "garbled app up")
    try:
        assert http.post("/grpc-garbled/v1/signal", json={"symbol": "SPY"}).status_code == 500
        error = refused(stub.Signal, pb.SignalRequest(symbol="SPY"), app="grpc-garbled")
        assert error.code() == grpc.StatusCode.INTERNAL and error.details() == INTERNAL_ERROR
    finally:
        serve.delete("grpc-garbled")
