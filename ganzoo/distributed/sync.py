"""Small collectives the trainer needs under torchrun; each one is a no-op without a process group.

Control messages (stop requests, the divergence step) are CPU tensors: with the ``cpu:gloo,cuda:nccl``
process group that :func:`ganzoo.distributed.context.maybe_distributed` creates they travel over
gloo and never synchronise the GPU stream.
"""

from __future__ import annotations

from typing import Any

import torch

_NEVER = 2**62


def active() -> bool:
    """True inside an initialised process group of more than one process."""
    import torch.distributed as dist

    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def _control_device() -> torch.device:
    """Where control tensors live: the CPU, unless the group has no CPU backend (plain ``nccl``)."""
    import torch.distributed as dist

    backend = str(dist.get_backend()).lower()
    if "gloo" in backend or "cpu" in backend or not torch.cuda.is_available():
        return torch.device("cpu")
    return torch.device("cuda", torch.cuda.current_device())


def barrier() -> None:
    if active():
        import torch.distributed as dist

        dist.barrier()


def any_rank(flag: bool) -> bool:
    """True on every rank when ``flag`` is true on at least one (e.g. a stop signal)."""
    if not active():
        return flag
    import torch.distributed as dist

    t = torch.tensor([1 if flag else 0], dtype=torch.int64, device=_control_device())
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item())


def mean_(tensor: torch.Tensor) -> torch.Tensor:
    """All-reduce ``tensor`` in place to its mean over the ranks (on the tensor's own device)."""
    if active():
        import torch.distributed as dist

        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
        tensor /= dist.get_world_size()
    return tensor


def earliest_step(bad: torch.Tensor) -> torch.Tensor:
    """Element-wise earliest non-negative step over the ranks (-1 where no rank has one)."""
    if not active():
        return bad
    import torch.distributed as dist

    t = torch.where(bad < 0, torch.full_like(bad, _NEVER), bad)
    dist.all_reduce(t, op=dist.ReduceOp.MIN)
    return torch.where(t == _NEVER, torch.full_like(t, -1), t)


def broadcast_object(obj: Any, src: int = 0) -> Any:
    """Rank ``src``'s ``obj`` on every rank (pickled; for small objects such as paths)."""
    if not active():
        return obj
    import torch.distributed as dist

    box = [obj]
    dist.broadcast_object_list(box, src=src)
    return box[0]
