"""A versioned store of price models on disk, with a `production` pointer.

    <root>/versions/<version>/   a complete model directory (weights, config, investiq.json)
    <root>/production.json       {"version": ..., "history": [older production versions]}
    <root>/decisions.jsonl       one line per promotion, rollback or rejected candidate, with the
                                 promotion gate's figures and reasons where a gate decided

Publishing writes the model beside the store and renames it into `versions/` (atomic on one
filesystem), and the pointer is replaced atomically and fsync'd, so a reader never sees a
half-written version and a crash at any point leaves production as it was.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from models.model_directory import METADATA_FILE

POINTER = "production.json"
# The models served while the configured registry has no production version (see their MODEL_CARD.md).
DEFAULT_PRICE_MODEL = Path(__file__).resolve().parent / "defaults" / "price"
DEFAULT_VOLATILITY_MODEL = Path(__file__).resolve().parent / "defaults" / "volatility"


def _write_atomic(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class ModelRegistry:
    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.versions_dir = self.root / "versions"

    @staticmethod
    def is_registry(path: str | Path) -> bool:
        return (Path(path) / "versions").is_dir()

    def path_of(self, version: str) -> Path:
        path = self.versions_dir / version
        if not (path / METADATA_FILE).is_file():
            raise KeyError(f"no model version {version!r} in {self.root}")
        return path

    def versions(self) -> list[str]:
        if not self.versions_dir.is_dir():
            return []
        return sorted(p.name for p in self.versions_dir.iterdir() if (p / METADATA_FILE).is_file())

    def metadata(self, version: str) -> dict:
        return json.loads((self.path_of(version) / METADATA_FILE).read_text())

    def _pointer(self) -> dict:
        path = self.root / POINTER
        return json.loads(path.read_text()) if path.is_file() else {"version": None, "history": []}

    def production(self) -> str | None:
        return self._pointer()["version"]

    def production_path(self) -> Path:
        version = self.production()
        if version is None:
            raise FileNotFoundError(f"model registry {self.root} has no production version yet")
        return self.path_of(version)

    def publish(self, model_dir: str | Path, version: str, extra: dict | None = None) -> Path:
        """Copy a finished model directory in as `version`; it appears whole or not at all.
        The copy's metadata carries `version`, so what Serve reports is the registry's name,
        and `extra` merged into its `extra` (e.g. the gate's decision, the MLflow run id)."""
        target = self.versions_dir / version
        if target.exists():
            raise FileExistsError(f"version {version!r} already exists in {self.root}")
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(dir=self.root, prefix=f".staging-{version}-"))
        try:
            shutil.copytree(model_dir, staging, dirs_exist_ok=True)
            meta_path = staging / METADATA_FILE
            meta = json.loads(meta_path.read_text())
            meta.update(version=version, extra={**meta.get("extra", {}), **(extra or {})})
            meta_path.write_text(json.dumps(meta, indent=2))
            for file in staging.iterdir():
                with open(file, "rb") as f:
                    os.fsync(f.fileno())
            os.rename(staging, target)
            _fsync_dir(self.versions_dir)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        return target

    def promote(self, version: str, reason: str = "promoted by hand", gate: dict | None = None) -> Path:
        """Make `version` production; `gate`: the promotion gate's figures, recorded with it.
        Promoting the production version changes nothing (no second history entry)."""
        path = self.path_of(version)
        pointer = self._pointer()
        if pointer["version"] == version:
            return path
        history = pointer["history"] + ([pointer["version"]] if pointer["version"] else [])
        _write_atomic(self.root / POINTER, json.dumps({"version": version, "history": history}))
        self.record({"action": "promote", "version": version, "previous": pointer["version"], "reason": reason,
                     **({"gate": gate} if gate is not None else {})})
        return path

    def previous(self) -> str:
        """The production version a rollback goes back to."""
        history = self._pointer()["history"]
        if not history:
            raise ValueError(f"nothing to roll back to in {self.root}: no earlier production version "
                             "(`investiq promote --version V` makes any published version production)")
        return history[-1]

    def rollback(self, to_none: bool = False) -> str | None:
        """Production goes back to the version before it; with `to_none`, a first promotion is
        undone too (production goes back to none)."""
        pointer = self._pointer()
        if not pointer["history"] and not to_none:
            self.previous()  # raises, saying what to do
        version, history = (pointer["history"][-1], pointer["history"][:-1]) if pointer["history"] else (None, [])
        if version is not None:
            self.path_of(version)
        _write_atomic(self.root / POINTER, json.dumps({"version": version, "history": history}))
        self.record({"action": "rollback", "version": version, "previous": pointer["version"]})
        return version

    def record(self, decision: dict) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **decision})
        with open(self.root / "decisions.jsonl", "a") as f:
            f.write(line + "\n")
            f.flush()
            os.fsync(f.fileno())

    def decisions(self) -> list[dict]:
        path = self.root / "decisions.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def new_version() -> str:
    """A version label that sorts by time: the UTC time of creation."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())


def resolve_model_dir(path: str | Path, default: Path | None = None) -> Path:
    """A model directory as given, or the production version when `path` is a registry.
    With `default`: that directory while `path` holds no model yet (it does not exist, or
    it is a registry without a production version), so a fresh install serves something; never
    for a version directory of a registry (a promotion's source), whose absence is a failure."""
    if ModelRegistry.is_registry(path):
        registry = ModelRegistry(path)
        return registry.production_path() if default is None or registry.production() else default
    in_registry = ModelRegistry.is_registry(Path(path).parent.parent)  # <root>/versions/<version>: a promotion's
    return default if default is not None and not Path(path).exists() and not in_registry else Path(path)


def registry_of(path: str | Path) -> ModelRegistry | None:
    """The registry a served source belongs to: `path` itself, or the registry holding the
    version directory `path` (a promotion points the graph at `<root>/versions/<version>`)."""
    path = Path(path)
    if ModelRegistry.is_registry(path):
        return ModelRegistry(path)
    if path.parent.name == "versions" and ModelRegistry.is_registry(path.parent.parent):
        return ModelRegistry(path.parent.parent)
    return None
