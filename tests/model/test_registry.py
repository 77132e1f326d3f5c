"""Versions appear whole or not at all; the production pointer survives crashes; rollback."""

import os
import subprocess
import sys
import textwrap

import pytest

from models.registry import ModelRegistry, resolve_model_dir
from tests.support import PROJECT_ROOT, make_tiny_price_model


@pytest.fixture
def registry(tmp_path):
    reg = ModelRegistry(tmp_path / "registry")
    for version in ("v1", "v2"):
        reg.publish(make_tiny_price_model(tmp_path / f"build-{version}", version), version)
    return reg


def test_publish_promote_list_rollback(registry):
    assert registry.versions() == ["v1", "v2"] and registry.production() is None
    registry.promote("v1")
    registry.promote("v2")
    assert resolve_model_dir(registry.root) == registry.path_of("v2")
    assert registry.rollback() == "v1"
    assert registry.production() == "v1"
    with pytest.raises(ValueError, match="nothing to roll back"):
        registry.rollback()
    assert [d["action"] for d in registry.decisions()] == ["promote", "promote", "rollback"]


def test_the_published_model_reports_the_registry_version(registry, tmp_path):
    registry.publish(make_tiny_price_model(tmp_path / "trained", "trained-at-noon"), "v3")
    assert registry.metadata("v3")["version"] == "v3"


def test_a_version_cannot_be_overwritten(registry, tmp_path):
    with pytest.raises(FileExistsError):
        registry.publish(make_tiny_price_model(tmp_path / "again", "v1"), "v1")


def test_unknown_version_cannot_be_promoted(registry):
    with pytest.raises(KeyError, match="no model version"):
        registry.promote("v9")


def test_crash_mid_publish_leaves_production_and_versions_intact(registry, tmp_path, monkeypatch):
    registry.promote("v1")
    source = make_tiny_price_model(tmp_path / "build-v3", "v3")

    def crash(*args):
        raise KeyboardInterrupt("power cut while renaming into place")

    monkeypatch.setattr(os, "rename", crash)
    with pytest.raises(KeyboardInterrupt):
        registry.publish(source, "v3")
    monkeypatch.undo()
    assert registry.versions() == ["v1", "v2"]  # no half-written v3 visible
    assert registry.production() == "v1"
    assert not [p for p in registry.root.iterdir() if p.name.startswith(".staging")]
    registry.publish(source, "v3")  # and the publish can simply be repeated
    assert registry.versions() == ["v1", "v2", "v3"]


def test_crash_while_writing_the_pointer_keeps_the_old_one(registry, monkeypatch):
    registry.promote("v1")

    def crash(*args):
        raise KeyboardInterrupt("power cut before the pointer was replaced")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(KeyboardInterrupt):
        registry.promote("v2")
    monkeypatch.undo()
    assert registry.production() == "v1"


def test_a_plain_model_directory_resolves_to_itself(tmp_path):
    model = make_tiny_price_model(tmp_path / "plain")
    assert resolve_model_dir(model) == model


def test_a_registry_without_production_says_so(tmp_path):
    (tmp_path / "r" / "versions").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no production version"):
        resolve_model_dir(tmp_path / "r")


def test_a_process_killed_mid_publish_leaves_the_old_version_serving(registry, tmp_path):
    registry.promote("v1")
    source = make_tiny_price_model(tmp_path / "build-v9", "v9")
    child = textwrap.dedent(f"""
        import os
        from models.registry import ModelRegistry
        os.rename = lambda *args: os._exit(9)  # killed between the staged copy and the rename
        ModelRegistry({str(registry.root)!r}).publish({str(source)!r}, "v9")
    """)
    assert subprocess.run([sys.executable, "-c", child], cwd=PROJECT_ROOT, timeout=120).returncode == 9
    assert registry.versions() == ["v1", "v2"]
    assert resolve_model_dir(registry.root) == registry.path_of("v1")  # what the Price deployment loads
    registry.publish(source, "v9")  # the leftover staging copy is in nobody's way
    assert "v9" in registry.versions()
