"""The mitigations through the engine: with every registered loss, combined, and on images."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn
from torch.nn.utils import parametrize

from ganzoo.config import resolve
from ganzoo.engine.api import start_run
from ganzoo.engine.components import HeadStack, assemble, pack_batch
from ganzoo.plugins import get_host
from ganzoo.specs import BatchContext

MITIGATIONS = sorted(n for n in get_host().mitigations.names() if get_host().mitigations.entry(n).plugin == "ganzoo-mitigations")
LOSSES = get_host().losses.names()  # new losses are covered automatically
TRAINED_ELSEWHERE = {
    "diffaugment": "test_regularizers.py (images only)",
    "ada": "test_regularizers.py (images only)",
    "consistency": "test_regularizers.py (images only)",
    "acgan": "test_acgan.py (needs a class-conditional generator)",
}
"""Mitigations that refuse ring8 with the mlp; each is trained in the named file (the image-only ones with every loss)."""
ON_RING8 = [n for n in MITIGATIONS if n not in TRAINED_ELSEWHERE]
TINY_TRAIN = {"log_every": 1, "sample_every": 0, "checkpoint_every": 0, "tensorboard": False, "n_critic": 1}


def losses_in(run_dir: Path) -> list[float]:
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r[k] for r in rows for k in ("loss_d", "loss_g", "penalty") if k in r]


def run(tmp_path: Path, mitigations: list[str], *, loss: str = "ns-gan", steps: int = 3, host: Any = None,
        **sections: Any) -> list[float]:
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": loss, "mitigations": mitigations,
                    "batch_size": 32, "steps": steps, "seed": 1},
            "arch": {"hidden": 16, "latent_dim": 8}, "train": dict(TINY_TRAIN), "mitigation": {}}
    for key, value in sections.items():
        user[key] = {**user.get(key, {}), **value}
    result = start_run(user, tmp_path / "run", host=host)
    assert result.status == "completed" and result.step == steps
    values = losses_in(tmp_path / "run")
    assert len(values) >= 2 * steps and all(math.isfinite(v) for v in values), values
    return values


@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("name", ON_RING8)
def test_each_mitigation_trains_with_each_loss(tmp_path: Path, name: str, loss: str) -> None:
    small = {"unrolled": {"steps": 2}, "minibatch-discrimination": {"num_kernels": 16}}
    run(tmp_path, [name], loss=loss, mitigation={name: small[name]} if name in small else {})


def test_spectral_norm_pacgan_mode_seeking_together(tmp_path: Path) -> None:
    run(tmp_path, ["spectral-norm", "pacgan", "mode-seeking"], mitigation={"pacgan": {"pack": 4}})


def test_all_mitigations_together(tmp_path: Path) -> None:
    names = ["minibatch-discrimination", "pacgan", "minibatch-stddev", "r1", "unrolled", "mode-seeking", "spectral-norm"]
    sets = {"unrolled": {"steps": 1}, "minibatch-discrimination": {"num_kernels": 8, "kernel_dim": 3}}
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "hinge", "mitigations": names, "batch_size": 32},
            "arch": {"hidden": 16, "latent_dim": 8}, "mitigation": sets}
    asm = assemble(resolve(user, get_host()), get_host())
    d = asm.discriminator
    assert asm.d_info.shape == (4,) and asm.batch.pack == 2
    assert isinstance(d.head, HeadStack) and [type(a).__name__ for a in d.head.augmenters] == [
        "MinibatchDiscrimination", "MinibatchStdDev"]
    assert d.head.out.in_features == 16 + 8 + 1
    linears = [m for m in d.modules() if isinstance(m, nn.Linear)]
    assert linears and all(parametrize.is_parametrized(m, "weight") for m in linears)
    run(tmp_path, names, loss="hinge", steps=2, mitigation=sets)


def test_spectral_norm_of_the_generator_trains_and_loads(tmp_path: Path) -> None:
    from ganzoo.rundir import load_generator

    run(tmp_path, ["spectral-norm"], mitigation={"spectral-norm": {"generator": True}})
    g = load_generator(tmp_path / "run")
    x = g.sample(16, seed=0)
    assert x.shape == (16, 2) and torch.isfinite(x).all()


# --------------------------------------------------------------------------- images


@pytest.mark.skipif("dcgan" not in get_host().architectures, reason="needs the dcgan architecture")
@pytest.mark.parametrize("resolution", [16, 32])
def test_pacgan_and_minibatch_stddev_on_images(tmp_path: Path, image_host: Any, resolution: int) -> None:
    user = {"run": {"dataset": "mitigation-test-images", "arch": "dcgan", "loss": "ns-gan", "batch_size": 8,
                    "steps": 2, "mitigations": ["pacgan", "minibatch-stddev"]},
            "dataset": {"resolution": resolution, "size": 32}, "arch": {"width": 4, "latent_dim": 8},
            "train": dict(TINY_TRAIN), "mitigation": {"minibatch-stddev": {"group_size": 2}}}
    asm = assemble(resolve(user, image_host), image_host)
    assert asm.d_info.shape == (6, resolution, resolution)
    first = next(m for m in asm.discriminator.modules() if isinstance(m, nn.Conv2d))
    assert first.in_channels == 6
    x = torch.randn(8, 3, resolution, resolution)
    ctx = BatchContext(0, 2, torch.device("cpu"), asm.info, "real", "discriminator")
    for m in asm.mitigations:  # what the engine does to a raw batch: transforms, then packing
        x = m.transform(x, ctx)
    x = pack_batch(x, asm.batch.pack)
    assert x.shape == (4, 6, resolution, resolution)
    assert asm.discriminator(x).shape == (4,)
    assert asm.discriminator.head.out.in_features == asm.discriminator.feature_dim + 1
    result = start_run(user, tmp_path / "run", host=image_host)
    assert result.status == "completed"
    assert all(math.isfinite(v) for v in losses_in(tmp_path / "run"))
