"""``ganzoo train --nproc K``: relaunch the same command under torchrun."""

from __future__ import annotations

import subprocess
import sys


def launch_torchrun(argv: list[str], nproc: int) -> int:
    args = [a for a in argv]
    cleaned: list[str] = []
    skip = False
    for a in args:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        cleaned.append(a)
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}", "-m", "ganzoo", *cleaned]
    return subprocess.call(cmd)
