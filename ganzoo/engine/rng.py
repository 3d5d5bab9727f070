"""Capture and restore every random number generator, in a form ``torch.load(weights_only=True)`` accepts."""

from __future__ import annotations

import random
from typing import Any, cast

import numpy as np
import torch


def capture() -> dict[str, Any]:
    version, state, gauss = random.getstate()
    # The legacy (default) state of numpy's global MT19937 generator is always this tuple.
    np_state = cast("tuple[str, np.ndarray, int, int, float]", np.random.get_state())
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np_state
    out: dict[str, Any] = {
        "python": [version, list(state), gauss],
        "numpy": [np_name, torch.from_numpy(np_keys.astype(np.int64)), int(np_pos), int(np_has_gauss), float(np_gauss)],
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }
    return out


def restore(state: dict[str, Any]) -> None:
    version, st, gauss = state["python"]
    random.setstate((version, tuple(st), gauss))
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = state["numpy"]
    np.random.set_state((np_name, np_keys.cpu().numpy().astype(np.uint32), np_pos, np_has_gauss, np_gauss))
    # RNG states are CPU byte tensors whatever map_location the checkpoint was loaded with.
    torch.set_rng_state(state["torch"].cpu())
    if state.get("cuda") and torch.cuda.is_available() and len(state["cuda"]) == torch.cuda.device_count():
        torch.cuda.set_rng_state_all([s.cpu() for s in state["cuda"]])


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
