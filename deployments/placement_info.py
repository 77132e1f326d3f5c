"""What a replica reports about where it runs, for /readyz: device, card(s), GPU memory."""

from __future__ import annotations

import ray


def replica_devices(device: str | None) -> dict:
    # ray.get_gpu_ids() would start a Ray instance when called outside one.
    gpu_ids = [str(g) for g in ray.get_gpu_ids()] if ray.is_initialized() else []
    info = {"device": device, "gpu_ids": gpu_ids, "gpu_memory_mb": None}
    if device and device.startswith("cuda"):
        import torch  # only replicas that run on CUDA have it loaded already

        info["gpu_memory_mb"] = {
            "allocated": torch.cuda.memory_allocated() / 2**20,
            "peak": torch.cuda.max_memory_allocated() / 2**20,
        }
    return info
