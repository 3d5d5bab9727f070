"""Detects a torchrun launch and sets up the process group; a no-op for single-process runs.

Under ``torchrun`` (``WORLD_SIZE`` > 1) every process trains the same run on its share of the
global batch: :class:`~torch.nn.parallel.DistributedDataParallel` averages the gradients, rank 0
alone writes the run directory. The process group is ``cpu:gloo,cuda:nccl`` when CUDA is present
(model tensors over NCCL, the trainer's small control messages over gloo), else ``gloo``.
"""

from __future__ import annotations

import contextlib
import datetime as _dt
import inspect
import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, NoReturn

from ganzoo.errors import ConfigError

TIMEOUT_ENV = "GANZOO_DIST_TIMEOUT_S"
"""Seconds a collective may wait for the other ranks (default 1800: rank 0 may evaluate or write samples meanwhile)."""


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    def trainer_kwargs(self) -> dict[str, Any]:
        if self.world_size == 1:
            return {}
        return {"rank": self.rank, "world_size": self.world_size, "wrap_models": _ddp_wrapper}


def _ddp_wrapper(module: Any) -> Any:
    """Wrap ``module`` in DDP (gradients averaged over the ranks; buffers stay rank-local)."""
    from torch.nn.parallel import DistributedDataParallel

    if not any(p.requires_grad for p in module.parameters()):
        return module
    dev = next(module.parameters()).device
    kwargs: dict[str, Any] = {"device_ids": [dev.index] if dev.type == "cuda" else None}
    # Buffers (BatchNorm statistics, spectral-norm vectors) are not re-broadcast at every forward:
    # each rank keeps its own, rank 0's are checkpointed. torch >= 2.14 renamed the option.
    params = inspect.signature(DistributedDataParallel.__init__).parameters
    if "forward_sync_buffers" in params:
        kwargs["forward_sync_buffers"] = False
    else:
        kwargs["broadcast_buffers"] = False
    return DistributedDataParallel(module, **kwargs)


def check_sync_batchnorm(module: Any, device: Any) -> None:
    """Raise a clear error when ``module`` has SyncBatchNorm layers this torch cannot run on ``device``.

    torch's SyncBatchNorm accepts GPU (and XPU/HPU) tensors only; on the CPU (gloo) it fails at the
    first forward with a terse ValueError. Probed, not assumed, so a torch that adds CPU support works."""
    import torch
    from torch import nn

    if not any(isinstance(m, nn.SyncBatchNorm) for m in module.modules()):
        return
    probe = nn.SyncBatchNorm(1).to(device).train()
    try:
        probe(torch.zeros(2, 1, device=device))
    except ValueError as exc:
        if "GPU" not in str(exc) and "device" not in str(exc).lower():
            raise
        raise ConfigError(
            f"train.sync_batchnorm=true needs GPUs: this torch ({torch.__version__}) runs SyncBatchNorm on "
            f"CUDA/XPU/HPU tensors only, and this run trains on {torch.device(device).type}. Drop "
            "train.sync_batchnorm (each process then normalises over its own share of the batch) or train on GPUs"
        ) from None


def _timeout() -> _dt.timedelta:
    return _dt.timedelta(seconds=float(os.environ.get(TIMEOUT_ENV, "1800")))


def die_with_parent() -> None:
    """Ask Linux to SIGTERM this process when its parent (the torchrun agent, the bench) dies.

    torchrun starts each worker in a session of its own, so a SIGKILL of torchrun's process group
    (a scheduler killing the job, a test) would otherwise leave the workers training as orphans. With
    SIGTERM they stop together after the current step and save a checkpoint."""
    import sys

    if not sys.platform.startswith("linux"):
        return
    parent = os.getppid()
    with contextlib.suppress(Exception):
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the launcher died before prctl took effect
        os._exit(1)


@contextlib.contextmanager
def maybe_distributed(*, destroy: bool = True) -> Iterator[DistContext]:
    """Join the torchrun process group when launched by torchrun (no-op otherwise).

    ``destroy=False`` leaves the group for the process exit to clean up: end the worker with
    :func:`leave_worker` once its results are saved, as the CLI does."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        yield DistContext()
        return
    if os.environ.get("TORCHELASTIC_RUN_ID"):  # started by torchrun
        die_with_parent()
    import torch
    import torch.distributed as dist

    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    if torch.cuda.is_available():
        torch.cuda.set_device(local_rank)
        backend = "cpu:gloo,cuda:nccl"
    else:
        backend = "gloo"
    owned = not dist.is_initialized()
    if owned:
        dist.init_process_group(backend, timeout=_timeout())
    try:
        yield DistContext(dist.get_rank(), dist.get_world_size(), local_rank)
    finally:
        if owned and destroy:
            with contextlib.suppress(Exception):
                dist.destroy_process_group()


def leave_worker(code: int = 0) -> NoReturn:
    """End a torchrun worker at once, skipping interpreter teardown.

    Call it after every rank has passed the trainer's final barrier and the results are written.
    Tearing down the process group (or the interpreter) there races with the C++ threads of gloo and
    the DDP reducer, which now and then abort a run that already succeeded ("terminate called
    without an active exception", SIGABRT)."""
    import sys

    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
