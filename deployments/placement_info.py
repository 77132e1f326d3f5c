"""What a replica reports about where it runs, for /readyz."""

from __future__ import annotations

import ray


def replica_devices(device: str) -> dict:
    return {"device": device, "gpu_ids": [str(g) for g in ray.get_gpu_ids()]}
