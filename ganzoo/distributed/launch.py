"""``ganzoo train --nproc K`` (and ``ganzoo resume --nproc K``): relaunch the same command under torchrun.

The command runs as ``python -m torch.distributed.run --standalone --nproc-per-node K -m ganzoo ...``
(one machine, a free rendezvous port chosen by torchrun). Ctrl-C reaches torchrun and its workers
through the terminal's process group: they checkpoint and stop. A SIGTERM sent to this launcher is
forwarded to torchrun, which stops its workers the same way.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
from typing import Any


def strip_nproc(argv: list[str]) -> list[str]:
    """``argv`` without ``--nproc K`` / ``--nproc=K``."""
    cleaned: list[str] = []
    skip = False
    for a in argv:
        if skip:
            skip = False
            continue
        if a == "--nproc":
            skip = True
            continue
        if a.startswith("--nproc="):
            continue
        cleaned.append(a)
    return cleaned


def torchrun_command(argv: list[str], nproc: int) -> list[str]:
    return [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
            "-m", "ganzoo", *strip_nproc(argv)]


def launch_torchrun(argv: list[str], nproc: int) -> int:
    """Run ``ganzoo <argv>`` (minus ``--nproc``) on ``nproc`` local processes; returns torchrun's exit status."""
    import os

    from ganzoo.errors import ConfigError

    if int(os.environ.get("WORLD_SIZE", "1")) > 1:
        raise ConfigError("--nproc: this command already runs under torchrun (WORLD_SIZE is set); drop --nproc")
    proc = subprocess.Popen(torchrun_command(argv, nproc))

    def forward(signum: int, frame: Any) -> None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signum)

    old: dict[int, Any] = {}
    with contextlib.suppress(ValueError):  # not the main thread
        old[signal.SIGTERM] = signal.signal(signal.SIGTERM, forward)
        # The terminal delivers Ctrl-C to torchrun and the workers already; do not die before them.
        old[signal.SIGINT] = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        return proc.wait()
    finally:
        for sig, handler in old.items():
            signal.signal(sig, handler)
