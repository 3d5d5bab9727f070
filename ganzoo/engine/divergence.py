"""Divergence that is not (yet) NaN: losses or samples orders of magnitude outside a sane range.

:class:`DivergenceWatch` looks at each metrics row (and the magnitude of a few samples) at the logging
interval. The first time a value leaves its sane range it returns a one-line warning (the trainer
logs it and records it in ``status.json``); with ``train.max_loss`` set, a loss beyond it stops the
run cleanly with a :class:`~ganzoo.errors.TrainingDivergedError`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ganzoo.errors import TrainingDivergedError

__all__ = ["LOSS_LIMIT", "SAMPLE_FACTOR", "DivergenceWatch"]

LOSS_LIMIT = 1e6
"""|loss| or |penalty| above this is far outside what a training GAN produces (typically 1e-2 to 1e2)."""
SAMPLE_FACTOR = 1e3
"""Samples larger than this many times the data's extent (at least 1) are off the data's scale."""
WATCHED = ("loss_d", "loss_g", "penalty")


class DivergenceWatch:
    """Warns once per run when losses or samples explode; stops at ``max_loss`` when set (> 0)."""

    def __init__(self, value_range: tuple[float, float] = (-1.0, 1.0), max_loss: float = 0.0) -> None:
        extent = max(abs(float(value_range[0])), abs(float(value_range[1])), 1.0)
        self.sample_limit = SAMPLE_FACTOR * extent
        self.max_loss = float(max_loss or 0.0)
        self.warning: str | None = None

    def observe(self, row: Mapping[str, Any], sample_magnitude: float | None = None) -> str | None:
        """Check one metrics row; return the warning the first time something is out of range (else None)."""
        step = row.get("step", "?")
        if self.max_loss > 0:
            for key in WATCHED[:2]:
                v = row.get(key)
                if isinstance(v, (int, float)) and abs(v) > self.max_loss:
                    raise TrainingDivergedError(
                        f"{key} reached {v:.3g} at step {step}, beyond train.max_loss={self.max_loss:g}; the run "
                        f"stopped. Try a lower learning rate (--set train.lr_d=..., train.lr_g=...)"
                    )
        if self.warning is not None:
            return None
        found = []
        for key in WATCHED:
            v = row.get(key)
            if isinstance(v, (int, float)) and math.isfinite(v) and abs(v) > LOSS_LIMIT:
                found.append(f"{key} {v:.3g}")
        if sample_magnitude is not None and math.isfinite(sample_magnitude) and sample_magnitude > self.sample_limit:
            found.append(f"sample magnitude {sample_magnitude:.3g}")
        if not found:
            return None
        self.warning = (
            f"training looks divergent at step {step}: {', '.join(found)} (sane: |loss| <= {LOSS_LIMIT:.0e}, "
            f"|sample| <= {self.sample_limit:.0e}); try a lower learning rate, or set train.max_loss to stop such runs"
        )
        return self.warning
