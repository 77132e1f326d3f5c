"""The gRPC API's committed Python code is what its .proto generates, and its messages mirror
the HTTP API's bodies, so one pydantic schema validates both."""

import typing

import pytest
from pydantic import BaseModel

from deployments.proto import signals_pb2 as pb
from deployments.proto.generate import GENERATED, PROJECT_ROOT, generate
from deployments.schemas import SignalRequest, SignalResponse, SignalsRequest, SignalsResponse


def test_the_committed_code_is_what_the_proto_generates(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a dev dependency) generates the code")
    generate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / "deployments/proto" / name).read_text()
        committed = (PROJECT_ROOT / "deployments/proto" / name).read_text()
        assert fresh == committed, f"deployments/proto/{name} is stale: run make proto"


def nested_model(annotation) -> type[BaseModel] | None:
    """The pydantic model inside list[X], X | None, dict[str, X]."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if model := nested_model(arg):
            return model
    return None


@pytest.mark.parametrize("schema,message", [(SignalRequest, pb.SignalRequest), (SignalsRequest, pb.SignalsRequest),
                                            (SignalResponse, pb.SignalResponse),
                                            (SignalsResponse, pb.SignalsResponse)])
def test_every_field_of_the_http_body_has_its_proto_field(schema, message):
    def walk(model: type[BaseModel], descriptor, where: str) -> None:
        fields = descriptor.fields_by_name
        assert set(model.model_fields) == set(fields), where
        for name, info in model.model_fields.items():
            inner = nested_model(info.annotation)
            if inner is not None:
                target = fields[name].message_type
                if target.full_name == "investiq.v1.InputShifts":  # list | null kept apart in proto
                    target = target.fields_by_name["shifts"].message_type
                walk(inner, target, f"{where}.{name}")

    walk(schema, message.DESCRIPTOR, schema.__name__)
