"""Fixtures for the export tests: tiny real runs and tiny generators built through the registry."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn


def build_generator(
    arch: str, shape: tuple[int, ...], *, arch_opts: Mapping[str, Any] | None = None,
    mitigations: Sequence[tuple[str, Mapping[str, Any]]] = (), loss: str = "ns-gan", seed: int = 0,
) -> tuple[nn.Module, Any]:
    """A generator for data of ``shape`` built exactly as the engine builds it (registry, options,
    mitigations' ``wrap_generator``), with random non-trivial weights and BatchNorm statistics."""
    from ganzoo import DataInfo
    from ganzoo.config import resolve
    from ganzoo.engine.components import assemble
    from ganzoo.plugins import get_host

    kind = "image" if len(shape) == 3 else "vector"
    dataset = "shapes" if kind == "image" else "ring8"
    user = {
        "run": {"dataset": dataset, "arch": arch, "loss": loss, "mitigations": [m for m, _ in mitigations], "seed": seed,
                "batch_size": 8},
        "arch": dict(arch_opts or {}),
        "mitigation": {m: dict(o) for m, o in mitigations if o},
    }
    info = DataInfo(name=f"fake-{kind}", kind=kind, shape=tuple(shape),
                    value_range=(-1.0, 1.0) if kind == "image" else (-1.5, 1.5))
    asm = assemble(resolve(user, get_host()), get_host(), info=info, with_data=False)
    return randomize(asm.generator), info


def randomize(g: nn.Module, seed: int = 0) -> nn.Module:
    """Weights large enough that outputs use the whole range, BatchNorm running stats and spectral-norm
    vectors moved away from their initial values (train-mode forwards), then eval mode."""
    torch.manual_seed(seed)
    with torch.no_grad():
        for name, p in g.named_parameters():
            if p.dim() > 1:
                p.normal_(0.0, 1.5 / max(1.0, p[0].numel()) ** 0.5)
            else:
                p.uniform_(-0.3, 0.3) if "bias" in name else p.uniform_(0.5, 1.5)
        g.train()
        for _ in range(3):
            g(torch.randn(16, g.latent_dim))
    return g.eval()


@pytest.fixture(scope="session")
def ring8_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real mlp run on ring8 (a few steps, small widths)."""
    from ganzoo.engine.api import start_run

    run = tmp_path_factory.mktemp("ring8") / "run"
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "steps": 5, "seed": 1, "batch_size": 32},
            "arch": {"hidden": 16, "latent_dim": 8},
            "train": {"log_every": 5, "sample_every": 1000, "checkpoint_every": 1000}}
    result = start_run(user, run)
    assert result.status == "completed"
    return run


@pytest.fixture(scope="session")
def ring8_onnx(ring8_run: Path) -> Path:
    """``ganzoo export`` of :func:`ring8_run` (default path and settings)."""
    from ganzoo.export import export_run

    report = export_run(ring8_run)
    assert report.path == ring8_run / "generator.onnx"
    return report.path
