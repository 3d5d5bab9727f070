"""Detects a torchrun launch and sets up the process group; a no-op for single-process runs."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def trainer_kwargs(self) -> dict[str, Any]:
        if self.world_size == 1:
            return {}
        return {"rank": self.rank, "world_size": self.world_size, "wrap_models": _ddp_wrapper}


def _ddp_wrapper(module: Any) -> Any:
    from torch.nn.parallel import DistributedDataParallel

    if not any(p.requires_grad for p in module.parameters()):
        return module
    dev = next(module.parameters()).device
    return DistributedDataParallel(module, device_ids=[dev.index] if dev.type == "cuda" else None, broadcast_buffers=False)


@contextlib.contextmanager
def maybe_distributed() -> Iterator[DistContext]:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield DistContext()
        return
    import torch
    import torch.distributed as dist

    backend = "nccl" if torch.cuda.is_available() else "gloo"
    if torch.cuda.is_available():
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend)
    try:
        yield DistContext(dist.get_rank(), dist.get_world_size())
    finally:
        dist.destroy_process_group()
