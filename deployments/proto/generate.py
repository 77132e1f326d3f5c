"""Generate the gRPC API's Python code from signals.proto (`make proto`; needs grpcio-tools,
a dev dependency pinned so the output is reproducible). The code is committed, so serving
needs only grpcio and protobuf."""

from __future__ import annotations

from pathlib import Path

PROTO = "deployments/proto/signals.proto"
PROJECT_ROOT = Path(__file__).resolve().parents[2]
GENERATED = ("signals_pb2.py", "signals_pb2.pyi", "signals_pb2_grpc.py")


def generate(out_dir: Path) -> None:
    """Write the generated modules under out_dir/deployments/proto/."""
    from grpc_tools import protoc

    code = protoc.main(["protoc", f"-I{PROJECT_ROOT}", f"--python_out={out_dir}", f"--pyi_out={out_dir}",
                        f"--grpc_python_out={out_dir}", str(PROJECT_ROOT / PROTO)])
    if code != 0:
        raise RuntimeError(f"protoc failed on {PROTO} (exit {code}): fix the .proto and run make proto again")


if __name__ == "__main__":
    generate(PROJECT_ROOT)
