"""A model directory: transformers' `save_pretrained` files plus `investiq.json`, the metadata
that says how to read inputs and outputs; and `BarModel`, what every model kind that reads
normalised OHLCV windows shares (device, normalisation, context, save and load)."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

import numpy as np

METADATA_FILE = "investiq.json"


def save_model_directory(network, metadata, directory: str | Path) -> Path:
    directory = Path(directory)
    network.save_pretrained(directory)
    (directory / METADATA_FILE).write_text(json.dumps(asdict(metadata), indent=2))
    return directory


def load_model_directory(directory: str | Path, metadata_class, network_class, kind: str):
    """(network, metadata) of a `kind` model directory; a directory of another kind (its
    metadata has other fields) is refused in one line instead of a TypeError."""
    directory = Path(directory)
    meta_path = directory / METADATA_FILE
    if not meta_path.is_file():
        raise FileNotFoundError(f"{directory} is not a {kind} model directory (no {METADATA_FILE})")
    try:
        metadata = metadata_class(**json.loads(meta_path.read_text()))
    except TypeError as exc:
        raise ValueError(f"{directory} is not a {kind} model directory: {exc}") from None
    return network_class.from_pretrained(directory), metadata


class BarModel:
    """A transformers network on windows of z-scored bar features. Subclasses name their
    metadata and network classes and their kind (for messages)."""

    METADATA_CLASS: type
    NETWORK_CLASS: type
    KIND: str

    def __init__(self, network, metadata, prefer_gpu: bool = True):
        import torch

        self.network = network
        self.metadata = metadata
        self.device = torch.device("cuda" if prefer_gpu and torch.cuda.is_available() else "cpu")
        self.network.to(self.device).eval()
        self._mean = np.asarray(metadata.feature_mean, dtype=np.float32)
        self._std = np.asarray(metadata.feature_std, dtype=np.float32)

    @property
    def context_length(self) -> int:
        return self.network.config.context_length

    @property
    def min_bars(self) -> int:
        """Bars a request must carry: one more than the context, for the first return."""
        return self.context_length + 1

    def normalise(self, features: np.ndarray) -> np.ndarray:
        return (features - self._mean) / self._std

    def save(self, directory: str | Path) -> Path:
        return save_model_directory(self.network, self.metadata, directory)

    @classmethod
    def load(cls, directory: str | Path, prefer_gpu: bool = True):
        network, metadata = load_model_directory(directory, cls.METADATA_CLASS, cls.NETWORK_CLASS, cls.KIND)
        return cls(network, metadata, prefer_gpu=prefer_gpu)
