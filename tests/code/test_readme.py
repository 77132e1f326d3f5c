"""The README's configuration reference names every setting of GraphConfig."""

from pydantic import BaseModel

from deployments.config import GraphConfig, Placement
from tests.support import PROJECT_ROOT


def setting_paths(model: type[BaseModel], prefix: str = "") -> list[str]:
    paths = []
    for name, field in model.model_fields.items():
        kind = field.annotation
        if isinstance(kind, type) and issubclass(kind, BaseModel):
            if kind is not Placement:
                paths += setting_paths(kind, f"{prefix}{name}.")
        else:
            paths.append(f"{prefix}{name}")
    return paths


def test_every_setting_is_documented():
    readme = (PROJECT_ROOT / "README.md").read_text()
    missing = [p for p in setting_paths(GraphConfig) if f"`{p}`" not in readme]
    assert not missing, missing
    for name in Placement.model_fields:
        assert f"`<branch>.placement.{name}`" in readme
