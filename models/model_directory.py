"""A model directory: transformers' `save_pretrained` files plus `investiq.json`, the metadata
that says how to read inputs and outputs. Shared by every model kind."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

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
