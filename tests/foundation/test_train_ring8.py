"""A real training run on ring8 writes the run directory and moves samples toward the data."""

import json

import torch

from ganzoo.engine.api import start_run
from ganzoo.rundir import load_generator
from tests.conftest import run_ganzoo


def _mean_distance_to_nearest_centre(x, centres):
    return torch.cdist(x, torch.tensor(centres)).min(dim=1).values.mean().item()


def test_ring8_samples_move_toward_the_data(tmp_path):
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "steps": 600, "seed": 3},
            "train": {"log_every": 100, "sample_every": 300, "checkpoint_every": 300}}
    # Distance at initialisation: the same seed, zero steps of training.
    from ganzoo.config import resolve
    from ganzoo.engine.components import assemble
    from ganzoo.plugins import get_host

    asm = assemble(resolve(user), get_host())
    centres = asm.info.mode_centres
    with torch.no_grad():
        z = torch.randn(2000, asm.generator.latent_dim, generator=torch.Generator().manual_seed(0))
        before = _mean_distance_to_nearest_centre(asm.generator.eval()(z), centres)

    result = start_run(user, tmp_path / "run")
    assert result.status == "completed" and result.step == 600
    after = _mean_distance_to_nearest_centre(load_generator(tmp_path / "run").sample(2000, seed=0), centres)
    assert after < before / 4, (before, after)


def test_cli_train_writes_run_directory(tmp_path):
    out = tmp_path / "run"
    result = run_ganzoo("train", "--dataset", "ring8", "--arch", "mlp", "--loss", "ns-gan", "--steps", "200",
                        "--set", "train.sample_every=100", "--out", str(out), "--quiet")
    assert result.returncode == 0, result.stderr
    assert (out / "config.toml").is_file()
    assert (out / "checkpoints" / "step-00000200.pt").is_file()
    assert (out / "samples" / "step-00000200.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    rows = [json.loads(l) for l in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [100, 200]
    assert all({"loss_d", "loss_g", "img_per_s", "wall_time"} <= set(r) for r in rows)
    assert list((out / "tb").iterdir())
    cfg = (out / "config.toml").read_text()
    assert 'dataset = "ring8"' in cfg and "[plugins]" in cfg and "ganzoo-vector" in cfg
