"""Every registered architecture x loss pair trains a few steps with finite losses.

The pairs are collected from the plugin host, so a new architecture or loss plugin is covered
without editing this file. Each architecture gets the first built-in (download-free) dataset it
supports, at a small size, and tiny options."""

from __future__ import annotations

import math
from typing import Any

import pytest

from ganzoo.config import resolve
from ganzoo.engine.trainer import Trainer
from ganzoo.plugins import get_host

HOST = get_host()
ARCHS = HOST.architectures.names()
LOSSES = HOST.losses.names()
BUILTIN_ARCHS = {"mlp", "dcgan"}  # shipped with ganzoo (plugins/ganzoo-vector, plugins/ganzoo-dcgan)

# Download-free datasets, smallest first: (name, options).
CANDIDATE_DATA: list[tuple[str, dict[str, Any]]] = [
    ("ring8", {"size": 64}),
    ("grid25", {"size": 64}),
    *[("shapes", {"resolution": r, "size": 16}) for r in (16, 28, 32, 64)],
]
TINY_ARCH_OPTIONS = {"width": 8, "hidden": 16, "latent_dim": 8, "g_depth": 1, "d_depth": 1}


def tiny_arch_options(arch: Any) -> dict[str, Any]:
    out = {}
    for key, value in TINY_ARCH_OPTIONS.items():
        opt = arch.options.get(key)
        if opt is not None and (opt.minimum is None or value >= opt.minimum) and opt.choices is None:
            out[key] = value
    return out


def pick_dataset(arch: Any) -> tuple[str, dict[str, Any]] | None:
    for name, options in CANDIDATE_DATA:
        if name not in HOST.datasets.names():
            continue
        data = HOST.datasets.get(name).with_options(options).build(data_root=None, seed=0)
        if arch.supports(data.info) is None:
            return name, options
    return None


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("arch", ARCHS)
def test_architecture_x_loss_trains(arch, loss, tmp_path):
    spec = HOST.architectures.get(arch)
    arch_options = tiny_arch_options(spec)
    picked = pick_dataset(spec.with_options(arch_options))
    if picked is None:
        # A built-in architecture always has a built-in dataset (ring8/grid25, shapes); only a third-party one may not.
        assert arch not in BUILTIN_ARCHS, f"built-in architecture {arch!r} found no download-free dataset"
        pytest.skip(f"no built-in download-free dataset that architecture {arch!r} supports")
    dataset, data_options = picked
    user = {
        "run": {"dataset": dataset, "arch": arch, "loss": loss, "steps": 2, "batch_size": 8, "device": "cpu", "seed": 0},
        "dataset": data_options,
        "arch": arch_options,
        "train": {"n_critic": 1, "tensorboard": False},
    }
    trainer = Trainer(resolve(user, HOST), tmp_path / "run", HOST)
    for _ in range(2):
        trainer.train_step()
    loss_d, loss_g, _ = trainer._acc.tolist()
    assert math.isfinite(loss_d) and math.isfinite(loss_g), (loss_d, loss_g)
    trainer.check_finite()
    assert trainer.step == 2
