"""Batches for the engine, with an exactly resumable order.

The order is a stream of indices: epoch ``e`` is a permutation drawn from ``seed`` and ``e``, so
the position ``(epoch, offset)`` alone restores it. Small datasets live on the device as tensors
(no DataLoader overhead, no host sync); large ones stream through a DataLoader with pinned memory.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import torch
from torch.utils.data import DataLoader, Sampler

from ganzoo.specs import Batch, GanData


def _ignore_stop_signals(worker_id: int) -> None:
    """DataLoader workers leave Ctrl-C and SIGTERM to the main process, which checkpoints and then
    shuts them down; a worker killed by the terminal's SIGINT would otherwise break the next batch."""
    import signal

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)


def epoch_permutation(n: int, seed: int, epoch: int) -> torch.Tensor:
    g = torch.Generator().manual_seed((seed * 1_000_003 + epoch * 7919 + 12345) % (2**63))
    return torch.randperm(n, generator=g)


class IndexStream:
    """Endless stream of dataset indices, epoch by epoch, starting at ``(epoch, offset)``.

    With ``world_size > 1`` each rank takes every ``world_size``-th index of the global batch."""

    def __init__(self, n: int, seed: int, epoch: int = 0, offset: int = 0) -> None:
        if n <= 0:
            raise ValueError("empty dataset")
        self.n, self.seed, self.epoch, self.offset = n, seed, epoch, offset
        self._perm = epoch_permutation(n, seed, epoch)

    def take(self, count: int) -> torch.Tensor:
        parts = []
        while count > 0:
            k = min(count, self.n - self.offset)
            parts.append(self._perm[self.offset : self.offset + k])
            self.offset += k
            count -= k
            if self.offset == self.n:
                self.epoch += 1
                self.offset = 0
                self._perm = epoch_permutation(self.n, self.seed, self.epoch)
        return torch.cat(parts) if len(parts) > 1 else parts[0]

    def state(self) -> dict[str, int]:
        return {"epoch": self.epoch, "offset": self.offset}


class _BatchSampler(Sampler[list[int]]):
    """Draws whole global batches of ``batch_size * world_size`` from the stream; yields this rank's
    slice ``[rank::world_size]`` (so each process loads only the samples it trains on)."""

    def __init__(self, stream: IndexStream, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.stream, self.batch_size = stream, batch_size
        self.rank, self.world_size = rank, world_size

    def __iter__(self) -> Iterator[list[int]]:
        while True:
            idx = self.stream.take(self.batch_size * self.world_size)
            yield (idx[self.rank :: self.world_size] if self.world_size > 1 else idx).tolist()


class BatchSource:
    """Yields real batches on ``device``, resumable through :meth:`state`. With ``labels`` the batches
    carry the dataset's labels (conditional runs); otherwise ``Batch.labels`` is None."""

    def __init__(
        self,
        data: GanData,
        *,
        batch_size: int,
        device: torch.device,
        seed: int,
        position: dict[str, int] | None = None,
        device_limit_mb: float = 1024,
        num_workers: int = 2,
        rank: int = 0,
        world_size: int = 1,
        labels: bool = False,
    ) -> None:
        self.batch_size = batch_size
        self.labels = labels
        self.device = device
        self.rank, self.world_size = rank, world_size
        position = position or {"epoch": 0, "offset": 0}
        self.batches_taken = int(position.get("batches", 0))
        n = len(data)
        self.stream = IndexStream(n, seed, position["epoch"], position["offset"])
        tensors = data.tensors
        nbytes = None
        if tensors is not None:
            nbytes = tensors[0].numel() * tensors[0].element_size()
        self.resident = tensors is not None and nbytes is not None and nbytes <= device_limit_mb * 2**20
        self.x: torch.Tensor | None = None
        if self.resident and tensors is not None:
            self.x = tensors[0].to(device, dtype=torch.float32)
            self.y = tensors[1].to(device, dtype=torch.long) if labels else None
            self._perm_epoch = -1
            self._loader_iter: Any = None
        else:
            self._dataset = data.dataset
            self._num_workers = num_workers
            self._loader_iter = None

    def _start_loader(self) -> None:
        # The loader draws whole global batches from the stream; this rank keeps its slice.
        loader = DataLoader(
            self._dataset,
            batch_sampler=_BatchSampler(self.stream, self.batch_size, self.rank, self.world_size),
            num_workers=self._num_workers,
            pin_memory=self.device.type == "cuda",
            persistent_workers=self._num_workers > 0,
            worker_init_fn=_ignore_stop_signals if self._num_workers > 0 else None,
        )
        self._loader_iter = iter(loader)
        self._loader_stream_state = self.stream.state()

    def next(self) -> Batch:
        """The next real batch (this rank's share of the global batch)."""
        self.batches_taken += 1
        if self.resident and self.x is not None:
            idx = self.stream.take(self.batch_size * self.world_size)
            if self.world_size > 1:
                idx = idx[self.rank :: self.world_size]
            idx = idx.to(self.device, non_blocking=True)
            return Batch(self.x[idx], self.y[idx] if self.y is not None else None)
        if self._loader_iter is None:
            self._consumed_state = self.stream.state()
            self._start_loader()
            self._consumed = 0
        batch = next(self._loader_iter)
        self._consumed += 1
        x = batch[0] if isinstance(batch, (list, tuple)) else batch
        y = batch[1].to(self.device, non_blocking=True, dtype=torch.long) if self.labels else None
        return Batch(x.to(self.device, non_blocking=True, dtype=torch.float32), y)

    def state(self) -> dict[str, int]:
        """Position of the next unconsumed batch (prefetching workers do not count)."""
        if self.resident:
            st = self.stream.state()
        else:
            # Recompute the position from the number of batches consumed since the loader started.
            if self._loader_iter is None:
                st = self.stream.state()
            else:
                probe = IndexStream(self.stream.n, self.stream.seed, **self._consumed_state)
                probe.take(self._consumed * self.batch_size * self.world_size) if self._consumed else None
                st = probe.state()
        return {**st, "batches": self.batches_taken}
