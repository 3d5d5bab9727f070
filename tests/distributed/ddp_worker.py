"""Run under torchrun by the distributed tests: train one run through the library and dump every
rank's raw G, D, EMA and buffers to ``OUT/rank-<r>.pt`` (to check that the ranks stay in sync).
It ends as ``ganzoo train`` ends a worker: the process group is left to :func:`leave_worker`.

Usage: python -m torch.distributed.run ... tests/distributed/ddp_worker.py OUT CONFIG_JSON
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import torch


def main() -> None:
    out, user = Path(sys.argv[1]), json.loads(sys.argv[2])
    from ganzoo import config as config_mod
    from ganzoo.distributed.context import leave_worker, maybe_distributed
    from ganzoo.engine.trainer import Trainer
    from ganzoo.plugins import get_host

    host = get_host()
    cfg = config_mod.resolve(user, host)
    with maybe_distributed(destroy=False) as dist:
        t = Trainer(cfg, out / "run", host, **dist.trainer_kwargs())
        status = t.run()
        torch.save({
            "status": status, "step": t.step,
            "G": {k: v.detach().clone() for k, v in t.G.state_dict().items()},
            "D": {k: v.detach().clone() for k, v in t.D.state_dict().items()},
            "ema": t.ema.shadow.state_dict() if t.ema is not None else None,
            "g_train": type(t.G_train).__name__, "d_train": type(t.D_train).__name__,
        }, out / f"rank-{dist.rank}.pt")
    if dist.world_size > 1:
        leave_worker(0)


if __name__ == "__main__":
    main()
