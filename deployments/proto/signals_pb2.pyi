from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Bars(_message.Message):
    __slots__ = ("timestamps", "open", "high", "low", "close", "volume")
    TIMESTAMPS_FIELD_NUMBER: _ClassVar[int]
    OPEN_FIELD_NUMBER: _ClassVar[int]
    HIGH_FIELD_NUMBER: _ClassVar[int]
    LOW_FIELD_NUMBER: _ClassVar[int]
    CLOSE_FIELD_NUMBER: _ClassVar[int]
    VOLUME_FIELD_NUMBER: _ClassVar[int]
    timestamps: _containers.RepeatedScalarFieldContainer[float]
    open: _containers.RepeatedScalarFieldContainer[float]
    high: _containers.RepeatedScalarFieldContainer[float]
    low: _containers.RepeatedScalarFieldContainer[float]
    close: _containers.RepeatedScalarFieldContainer[float]
    volume: _containers.RepeatedScalarFieldContainer[float]
    def __init__(self, timestamps: _Optional[_Iterable[float]] = ..., open: _Optional[_Iterable[float]] = ..., high: _Optional[_Iterable[float]] = ..., low: _Optional[_Iterable[float]] = ..., close: _Optional[_Iterable[float]] = ..., volume: _Optional[_Iterable[float]] = ...) -> None: ...

class StrategyOutcome(_message.Message):
    __slots__ = ("strategy", "outcome", "timestamp", "id", "r_multiple")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    R_MULTIPLE_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    outcome: str
    timestamp: str
    id: str
    r_multiple: float
    def __init__(self, strategy: _Optional[str] = ..., outcome: _Optional[str] = ..., timestamp: _Optional[str] = ..., id: _Optional[str] = ..., r_multiple: _Optional[float] = ...) -> None: ...

class SymbolInputs(_message.Message):
    __slots__ = ("symbol", "news", "outcomes", "bars")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NEWS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    BARS_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    news: _containers.RepeatedScalarFieldContainer[str]
    outcomes: _containers.RepeatedCompositeFieldContainer[StrategyOutcome]
    bars: Bars
    def __init__(self, symbol: _Optional[str] = ..., news: _Optional[_Iterable[str]] = ..., outcomes: _Optional[_Iterable[_Union[StrategyOutcome, _Mapping]]] = ..., bars: _Optional[_Union[Bars, _Mapping]] = ...) -> None: ...

class SignalRequest(_message.Message):
    __slots__ = ("symbol", "news", "outcomes", "bars", "request_id", "shadow")
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    NEWS_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    BARS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    symbol: str
    news: _containers.RepeatedScalarFieldContainer[str]
    outcomes: _containers.RepeatedCompositeFieldContainer[StrategyOutcome]
    bars: Bars
    request_id: str
    shadow: bool
    def __init__(self, symbol: _Optional[str] = ..., news: _Optional[_Iterable[str]] = ..., outcomes: _Optional[_Iterable[_Union[StrategyOutcome, _Mapping]]] = ..., bars: _Optional[_Union[Bars, _Mapping]] = ..., request_id: _Optional[str] = ..., shadow: _Optional[bool] = ...) -> None: ...

class SignalsRequest(_message.Message):
    __slots__ = ("signals", "request_id", "shadow")
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    signals: _containers.RepeatedCompositeFieldContainer[SymbolInputs]
    request_id: str
    shadow: bool
    def __init__(self, signals: _Optional[_Iterable[_Union[SymbolInputs, _Mapping]]] = ..., request_id: _Optional[str] = ..., shadow: _Optional[bool] = ...) -> None: ...

class SentimentResult(_message.Message):
    __slots__ = ("label", "confidence", "probabilities", "score")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    LABEL_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    label: str
    confidence: float
    probabilities: _containers.ScalarMap[str, float]
    score: float
    def __init__(self, label: _Optional[str] = ..., confidence: _Optional[float] = ..., probabilities: _Optional[_Mapping[str, float]] = ..., score: _Optional[float] = ...) -> None: ...

class SentimentResponse(_message.Message):
    __slots__ = ("model_id", "version", "results", "score")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    version: str
    results: _containers.RepeatedCompositeFieldContainer[SentimentResult]
    score: float
    def __init__(self, model_id: _Optional[str] = ..., version: _Optional[str] = ..., results: _Optional[_Iterable[_Union[SentimentResult, _Mapping]]] = ..., score: _Optional[float] = ...) -> None: ...

class InputShift(_message.Message):
    __slots__ = ("channel", "statistic", "value", "training_min", "training_max", "distance")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    STATISTIC_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    TRAINING_MIN_FIELD_NUMBER: _ClassVar[int]
    TRAINING_MAX_FIELD_NUMBER: _ClassVar[int]
    DISTANCE_FIELD_NUMBER: _ClassVar[int]
    channel: str
    statistic: str
    value: float
    training_min: float
    training_max: float
    distance: float
    def __init__(self, channel: _Optional[str] = ..., statistic: _Optional[str] = ..., value: _Optional[float] = ..., training_min: _Optional[float] = ..., training_max: _Optional[float] = ..., distance: _Optional[float] = ...) -> None: ...

class InputShifts(_message.Message):
    __slots__ = ("shifts",)
    SHIFTS_FIELD_NUMBER: _ClassVar[int]
    shifts: _containers.RepeatedCompositeFieldContainer[InputShift]
    def __init__(self, shifts: _Optional[_Iterable[_Union[InputShift, _Mapping]]] = ...) -> None: ...

class PriceResponse(_message.Message):
    __slots__ = ("model_id", "version", "horizon", "probabilities", "edges", "score", "expected_return", "base_rate_return", "threshold", "no_threshold_because", "flat_band_bp", "out_of_distribution")
    class ProbabilitiesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    class EdgesEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    PROBABILITIES_FIELD_NUMBER: _ClassVar[int]
    EDGES_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_RETURN_FIELD_NUMBER: _ClassVar[int]
    BASE_RATE_RETURN_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    NO_THRESHOLD_BECAUSE_FIELD_NUMBER: _ClassVar[int]
    FLAT_BAND_BP_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    version: str
    horizon: int
    probabilities: _containers.ScalarMap[str, float]
    edges: _containers.ScalarMap[str, float]
    score: float
    expected_return: float
    base_rate_return: float
    threshold: float
    no_threshold_because: str
    flat_band_bp: float
    out_of_distribution: InputShifts
    def __init__(self, model_id: _Optional[str] = ..., version: _Optional[str] = ..., horizon: _Optional[int] = ..., probabilities: _Optional[_Mapping[str, float]] = ..., edges: _Optional[_Mapping[str, float]] = ..., score: _Optional[float] = ..., expected_return: _Optional[float] = ..., base_rate_return: _Optional[float] = ..., threshold: _Optional[float] = ..., no_threshold_because: _Optional[str] = ..., flat_band_bp: _Optional[float] = ..., out_of_distribution: _Optional[_Union[InputShifts, _Mapping]] = ...) -> None: ...

class HorizonRisk(_message.Message):
    __slots__ = ("horizon", "variance", "har_variance", "volatility", "return_std", "interval_90", "var_95", "var_99", "position_scale")
    HORIZON_FIELD_NUMBER: _ClassVar[int]
    VARIANCE_FIELD_NUMBER: _ClassVar[int]
    HAR_VARIANCE_FIELD_NUMBER: _ClassVar[int]
    VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    RETURN_STD_FIELD_NUMBER: _ClassVar[int]
    INTERVAL_90_FIELD_NUMBER: _ClassVar[int]
    VAR_95_FIELD_NUMBER: _ClassVar[int]
    VAR_99_FIELD_NUMBER: _ClassVar[int]
    POSITION_SCALE_FIELD_NUMBER: _ClassVar[int]
    horizon: int
    variance: float
    har_variance: float
    volatility: float
    return_std: float
    interval_90: _containers.RepeatedScalarFieldContainer[float]
    var_95: float
    var_99: float
    position_scale: float
    def __init__(self, horizon: _Optional[int] = ..., variance: _Optional[float] = ..., har_variance: _Optional[float] = ..., volatility: _Optional[float] = ..., return_std: _Optional[float] = ..., interval_90: _Optional[_Iterable[float]] = ..., var_95: _Optional[float] = ..., var_99: _Optional[float] = ..., position_scale: _Optional[float] = ...) -> None: ...

class RiskResponse(_message.Message):
    __slots__ = ("model_id", "version", "forecaster", "target_annual_volatility", "horizons", "out_of_distribution")
    MODEL_ID_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    FORECASTER_FIELD_NUMBER: _ClassVar[int]
    TARGET_ANNUAL_VOLATILITY_FIELD_NUMBER: _ClassVar[int]
    HORIZONS_FIELD_NUMBER: _ClassVar[int]
    OUT_OF_DISTRIBUTION_FIELD_NUMBER: _ClassVar[int]
    model_id: str
    version: str
    forecaster: str
    target_annual_volatility: float
    horizons: _containers.RepeatedCompositeFieldContainer[HorizonRisk]
    out_of_distribution: InputShifts
    def __init__(self, model_id: _Optional[str] = ..., version: _Optional[str] = ..., forecaster: _Optional[str] = ..., target_annual_volatility: _Optional[float] = ..., horizons: _Optional[_Iterable[_Union[HorizonRisk, _Mapping]]] = ..., out_of_distribution: _Optional[_Union[InputShifts, _Mapping]] = ...) -> None: ...

class StrategyPosterior(_message.Message):
    __slots__ = ("strategy", "alpha", "beta", "mean", "lower", "upper", "outcomes", "expected_r", "expected_r_lower", "expected_r_upper", "r_outcomes", "probability_best", "probability_best_r", "thompson_draw")
    STRATEGY_FIELD_NUMBER: _ClassVar[int]
    ALPHA_FIELD_NUMBER: _ClassVar[int]
    BETA_FIELD_NUMBER: _ClassVar[int]
    MEAN_FIELD_NUMBER: _ClassVar[int]
    LOWER_FIELD_NUMBER: _ClassVar[int]
    UPPER_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_R_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_R_LOWER_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_R_UPPER_FIELD_NUMBER: _ClassVar[int]
    R_OUTCOMES_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_BEST_FIELD_NUMBER: _ClassVar[int]
    PROBABILITY_BEST_R_FIELD_NUMBER: _ClassVar[int]
    THOMPSON_DRAW_FIELD_NUMBER: _ClassVar[int]
    strategy: str
    alpha: float
    beta: float
    mean: float
    lower: float
    upper: float
    outcomes: int
    expected_r: float
    expected_r_lower: float
    expected_r_upper: float
    r_outcomes: int
    probability_best: float
    probability_best_r: float
    thompson_draw: float
    def __init__(self, strategy: _Optional[str] = ..., alpha: _Optional[float] = ..., beta: _Optional[float] = ..., mean: _Optional[float] = ..., lower: _Optional[float] = ..., upper: _Optional[float] = ..., outcomes: _Optional[int] = ..., expected_r: _Optional[float] = ..., expected_r_lower: _Optional[float] = ..., expected_r_upper: _Optional[float] = ..., r_outcomes: _Optional[int] = ..., probability_best: _Optional[float] = ..., probability_best_r: _Optional[float] = ..., thompson_draw: _Optional[float] = ...) -> None: ...

class StrategyWeightsResponse(_message.Message):
    __slots__ = ("as_of", "credible_level", "half_life_days", "window_start", "strategies")
    AS_OF_FIELD_NUMBER: _ClassVar[int]
    CREDIBLE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    HALF_LIFE_DAYS_FIELD_NUMBER: _ClassVar[int]
    WINDOW_START_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    as_of: str
    credible_level: float
    half_life_days: float
    window_start: str
    strategies: _containers.RepeatedCompositeFieldContainer[StrategyPosterior]
    def __init__(self, as_of: _Optional[str] = ..., credible_level: _Optional[float] = ..., half_life_days: _Optional[float] = ..., window_start: _Optional[str] = ..., strategies: _Optional[_Iterable[_Union[StrategyPosterior, _Mapping]]] = ...) -> None: ...

class DegradedBranch(_message.Message):
    __slots__ = ("branch", "category", "reason")
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    CATEGORY_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    branch: str
    category: str
    reason: str
    def __init__(self, branch: _Optional[str] = ..., category: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class SignalResponse(_message.Message):
    __slots__ = ("request_id", "symbol", "shadow", "actionable", "not_actionable_because", "decision", "confidence", "score", "threshold", "sentiment", "price", "risk", "expected_move", "strategies", "outcomes_recorded", "degraded", "model_versions", "latency_ms")
    class ModelVersionsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    class LatencyMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SYMBOL_FIELD_NUMBER: _ClassVar[int]
    SHADOW_FIELD_NUMBER: _ClassVar[int]
    ACTIONABLE_FIELD_NUMBER: _ClassVar[int]
    NOT_ACTIONABLE_BECAUSE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    THRESHOLD_FIELD_NUMBER: _ClassVar[int]
    SENTIMENT_FIELD_NUMBER: _ClassVar[int]
    PRICE_FIELD_NUMBER: _ClassVar[int]
    RISK_FIELD_NUMBER: _ClassVar[int]
    EXPECTED_MOVE_FIELD_NUMBER: _ClassVar[int]
    STRATEGIES_FIELD_NUMBER: _ClassVar[int]
    OUTCOMES_RECORDED_FIELD_NUMBER: _ClassVar[int]
    DEGRADED_FIELD_NUMBER: _ClassVar[int]
    MODEL_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    symbol: str
    shadow: bool
    actionable: bool
    not_actionable_because: _containers.RepeatedScalarFieldContainer[str]
    decision: str
    confidence: float
    score: float
    threshold: float
    sentiment: SentimentResponse
    price: PriceResponse
    risk: RiskResponse
    expected_move: float
    strategies: StrategyWeightsResponse
    outcomes_recorded: int
    degraded: _containers.RepeatedCompositeFieldContainer[DegradedBranch]
    model_versions: _containers.ScalarMap[str, str]
    latency_ms: _containers.ScalarMap[str, float]
    def __init__(self, request_id: _Optional[str] = ..., symbol: _Optional[str] = ..., shadow: _Optional[bool] = ..., actionable: _Optional[bool] = ..., not_actionable_because: _Optional[_Iterable[str]] = ..., decision: _Optional[str] = ..., confidence: _Optional[float] = ..., score: _Optional[float] = ..., threshold: _Optional[float] = ..., sentiment: _Optional[_Union[SentimentResponse, _Mapping]] = ..., price: _Optional[_Union[PriceResponse, _Mapping]] = ..., risk: _Optional[_Union[RiskResponse, _Mapping]] = ..., expected_move: _Optional[float] = ..., strategies: _Optional[_Union[StrategyWeightsResponse, _Mapping]] = ..., outcomes_recorded: _Optional[int] = ..., degraded: _Optional[_Iterable[_Union[DegradedBranch, _Mapping]]] = ..., model_versions: _Optional[_Mapping[str, str]] = ..., latency_ms: _Optional[_Mapping[str, float]] = ...) -> None: ...

class SignalsResponse(_message.Message):
    __slots__ = ("request_id", "signals", "latency_ms")
    class LatencyMsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: float
        def __init__(self, key: _Optional[str] = ..., value: _Optional[float] = ...) -> None: ...
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    SIGNALS_FIELD_NUMBER: _ClassVar[int]
    LATENCY_MS_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    signals: _containers.RepeatedCompositeFieldContainer[SignalResponse]
    latency_ms: _containers.ScalarMap[str, float]
    def __init__(self, request_id: _Optional[str] = ..., signals: _Optional[_Iterable[_Union[SignalResponse, _Mapping]]] = ..., latency_ms: _Optional[_Mapping[str, float]] = ...) -> None: ...
