"""The application builder: `serve_config.yaml` names `graph:build_app` as its import_path.

It validates the args into GraphConfig, refuses to expose state-changing routes beyond
loopback without an API key, fits the GPU requests to the cluster it runs on
(device_policy), checks that every replica's GPU fraction has a card to land on, and binds
the model deployments and the Ledger into the ingress.
"""

import ipaddress
import logging
import os
from pathlib import Path

import ray
from ray import serve
from ray.serve.context import _get_global_client

from deployments.config import GraphConfig, IngressConfig
from deployments.ingress import SignalIngress
from deployments.ledger import Ledger
from deployments.price import PriceDeployment
from deployments.sentiment import SentimentDeployment
from deployments.volatility import VolatilityDeployment
from store.store import sqlite_url

logger = logging.getLogger("ray.serve")

GPU_BRANCHES = ("sentiment", "price", "volatility")


def cluster_gpu_cards() -> list[int]:
    """Number of GPU cards on each live node of the Ray cluster the builder runs against."""
    if not ray.is_initialized():
        ray.init()
    return [int(node["Resources"].get("GPU", 0)) for node in ray.nodes() if node["Alive"]]


def fit_gpu_plan(requests: list[tuple[str, float]], cards_per_node: list[int]) -> dict[str, int]:
    """First-fit the fractional requests onto cards, as Ray does; the card index per request.

    Raises ValueError when a request finds no card, since Ray would leave that replica
    pending forever instead of failing.
    """
    free = [1.0] * sum(cards_per_node)
    placed = {}
    for name, fraction in requests:
        card = next((i for i, f in enumerate(free) if f + 1e-9 >= fraction), None)
        if card is None:
            asked = ", ".join(f"{n}={f:g}" for n, f in requests)
            raise ValueError(
                f"GPU plan does not fit: {asked} on {len(free)} card(s); lower num_gpus or num_replicas"
            )
        free[card] -= fraction
        placed[name] = card
    return placed


def resolve_devices(config: GraphConfig, cards_per_node: list[int]) -> GraphConfig:
    """Apply device_policy: keep, drop or refuse the GPU requests for this cluster."""
    config = config.model_copy(deep=True)
    asked = [b for b in GPU_BRANCHES if getattr(config, b).placement.num_gpus > 0]
    gpus = sum(cards_per_node)
    if config.device_policy == "gpu" and gpus == 0:
        raise ValueError("device_policy is 'gpu' but the Ray cluster has no GPUs; "
                         "start Ray on a GPU machine or set device_policy: auto")
    if asked and (config.device_policy == "cpu" or gpus == 0):
        for branch in asked:
            getattr(config, branch).placement.num_gpus = 0.0
        logger.warning("device_policy=%s with %d GPU(s) in the cluster: %s run on CPU",
                       config.device_policy, gpus, ", ".join(asked))
        return config
    requests = [(f"{b}[{r}]", getattr(config, b).placement.num_gpus)
                for b in asked for r in range(getattr(config, b).placement.num_replicas)]
    if requests:
        logger.info("GPU plan (card per replica, first fit): %s", fit_gpu_plan(requests, cards_per_node))
    return config


def check_exposure(host: str | None, config: IngressConfig, grpc_on: bool = False) -> None:
    """Refuse a non-loopback HTTP address, or Serve's gRPC proxy (which Ray binds on every
    interface), without an API key, unless the operator allows it."""
    if config.allow_unauthenticated or os.environ.get(config.api_key_env):
        return
    if grpc_on:
        raise ValueError(f"Serve's gRPC proxy listens on every interface and ${config.api_key_env} is not set: set "
                         "the API key, or ingress.allow_unauthenticated: true, or drop grpc_options")
    if host is None:
        return
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:  # a host name other than localhost
        loopback = False
    if not loopback:
        raise ValueError(f"http_options.host {host} exposes the graph beyond this machine and ${config.api_key_env} "
                         "is not set: set the API key (a Secret on Kubernetes), or ingress.allow_unauthenticated: true")


def serve_proxies() -> tuple[str | None, bool]:
    """The address Serve's HTTP proxies bind, and whether its gRPC proxies serve anything, when
    a Serve instance is running."""
    client = _get_global_client(raise_if_no_controller_running=False)
    if client is None:
        return None, False
    grpc_config = ray.get(client._controller.get_grpc_config.remote())
    return client.http_config.host, bool(grpc_config.grpc_servicer_functions)


def build_app(args: GraphConfig) -> serve.Application:
    host, grpc_on = serve_proxies()
    check_exposure(host, args.ingress, grpc_on)
    config = resolve_devices(args, cluster_gpu_cards())
    store_url = (config.store_url or os.environ.get("INVESTIQ_STORE_URL")
                 or sqlite_url(Path(config.data_dir).expanduser().resolve()))

    def options(section, model_dir: str | None = None):
        p = section.placement
        # Model servers load the model that user_config names: promotions change only that, and
        # Serve applies it in place with reconfigure() (see training/promotion.py).
        loads = {"user_config": {"model_dir": str(Path(model_dir).expanduser().resolve())}} if model_dir else {}
        return {"num_replicas": p.num_replicas, "max_ongoing_requests": p.max_ongoing_requests,
                "max_queued_requests": p.max_queued_requests, "health_check_period_s": p.health_check_period_s,
                "ray_actor_options": p.actor_options(), **loads}

    ledger = Ledger.options(**options(config.ledger)).bind(config.ledger, store_url)
    sentiment = SentimentDeployment.options(**options(config.sentiment)).bind(
        config.sentiment, config.sentiment.placement.num_gpus > 0, ledger)
    price = PriceDeployment.options(**options(config.price, config.price.model_dir)).bind(
        config.price, config.price.placement.num_gpus > 0, ledger)
    volatility = VolatilityDeployment.options(**options(config.volatility, config.volatility.model_dir)).bind(
        config.volatility, config.volatility.placement.num_gpus > 0, ledger)
    return SignalIngress.options(**options(config.ingress)).bind(sentiment, price, volatility, ledger, config.ingress)
