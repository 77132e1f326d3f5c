"""The gRPC API's committed Python code is what its .proto generates, and its messages mirror
the HTTP API's bodies (names, types, and null as an absent field), so one pydantic schema
validates both and a null never arrives as 0."""

import types
import typing
from datetime import datetime

import pytest
from google.protobuf.descriptor import FieldDescriptor
from pydantic import BaseModel

from deployments.proto import signals_pb2 as pb
from deployments.proto.generate import GENERATED, PROJECT_ROOT, generate
from deployments.schemas import SignalRequest, SignalResponse, SignalsRequest, SignalsResponse

PROTO_TYPES = {int: FieldDescriptor.TYPE_INT64, float: FieldDescriptor.TYPE_DOUBLE,
               str: FieldDescriptor.TYPE_STRING, bool: FieldDescriptor.TYPE_BOOL,
               datetime: FieldDescriptor.TYPE_STRING}  # ISO-8601, as in JSON
EPOCH_SECONDS = ".bars.timestamps[]"  # but bar timestamps: packed doubles


def test_the_committed_code_is_what_the_proto_generates(tmp_path):
    pytest.importorskip("grpc_tools", reason="grpcio-tools (a dev dependency) generates the code")
    generate(tmp_path)
    for name in GENERATED:
        fresh = (tmp_path / "deployments/proto" / name).read_text()
        committed = (PROJECT_ROOT / "deployments/proto" / name).read_text()
        assert fresh == committed, f"deployments/proto/{name} is stale: run make proto"


def unwrapped(annotation) -> tuple[object, bool]:
    """The annotation without Annotated[...] and `| None`, and whether None was allowed."""
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        inner, _ = unwrapped(args[0]) if len(args) == 1 else (annotation, False)
        return inner, len(args) < len(typing.get_args(annotation))
    return annotation, False


def check(annotation, field: FieldDescriptor, where: str) -> None:
    annotation, nullable = unwrapped(annotation)
    origin = typing.get_origin(annotation)
    if origin is dict:
        assert field.message_type is not None and field.message_type.GetOptions().map_entry, f"{where}: a map"
        check(typing.get_args(annotation)[1], field.message_type.fields_by_name["value"], f"{where}[value]")
        return
    if origin is list:
        if field.message_type is not None and field.message_type.full_name == "investiq.v1.InputShifts":
            assert nullable and field.has_presence, f"{where}: null stays apart from []"
            field = field.message_type.fields_by_name["shifts"]
        else:
            assert not nullable, f"{where}: a nullable list needs a wrapper message, or null reads as []"
        assert field.is_repeated, f"{where}: repeated"
        check(typing.get_args(annotation)[0], field, f"{where}[]")
        return
    if not field.is_repeated:
        assert field.has_presence == nullable or field.message_type is not None, \
            f"{where}: nullable in JSON must be optional in proto (and only then), or null reads as 0"
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        assert field.message_type is not None, f"{where}: a message"
        walk(annotation, field.message_type, where)
    elif origin is typing.Literal:
        assert field.type == FieldDescriptor.TYPE_STRING, f"{where}: a string"
    elif where.endswith(EPOCH_SECONDS):
        assert annotation is datetime and field.type == FieldDescriptor.TYPE_DOUBLE, where
    else:
        assert field.type == PROTO_TYPES[annotation], f"{where}: {annotation} as proto type {field.type}"


def walk(model: type[BaseModel], descriptor, where: str) -> None:
    fields = descriptor.fields_by_name
    assert set(model.model_fields) == set(fields), where
    for name, info in model.model_fields.items():
        check(info.annotation if not info.metadata else typing.Annotated[info.annotation, *info.metadata],
              fields[name], f"{where}.{name}")


@pytest.mark.parametrize("schema,message", [(SignalRequest, pb.SignalRequest), (SignalsRequest, pb.SignalsRequest),
                                            (SignalResponse, pb.SignalResponse),
                                            (SignalsResponse, pb.SignalsResponse)])
def test_every_field_of_the_http_body_has_its_proto_field(schema, message):
    walk(schema, message.DESCRIPTOR, schema.__name__)
