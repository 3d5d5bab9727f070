"""Acceptance of the component contracts v2 through a real third-party distribution.

``tests/plugins/ganzoo-contracts-demo`` is installed with pip into a separate site directory and loaded from
its ``ganzoo`` entry point (in this process through a :class:`~ganzoo.plugins.PluginHost`, in CLI subprocesses
through ``PYTHONPATH``). It uses only ``from ganzoo import ...`` and registers: an exact RaGAN loss, annealed
instance noise, a packing mitigation, a metric, a class-conditional architecture and MNIST-shaped labelled data.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from tests.conftest import REPO, run_ganzoo

DIST = REPO / "tests" / "plugins" / "ganzoo-contracts-demo"
FAST = {"tensorboard": False, "log_every": 1, "sample_every": 0, "num_workers": 0}


# --------------------------------------------------------------------------- the distribution


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """The demo distribution installed for real (pip, no deps) into its own site directory."""
    src = tmp_path_factory.mktemp("contracts-demo-src") / "ganzoo-contracts-demo"
    shutil.copytree(DIST, src, ignore=shutil.ignore_patterns("build", "*.egg-info", "__pycache__"))
    target = tmp_path_factory.mktemp("contracts-demo-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation", "--target", str(target), str(src)],
        check=True, capture_output=True, text=True, timeout=300,
    )
    eps = list(target.glob("ganzoo_contracts_demo-*.dist-info/entry_points.txt"))
    assert eps and "contracts-demo = ganzoo_contracts_demo.plugin" in eps[0].read_text()
    return target


@pytest.fixture(scope="module")
def host(site):
    """A strict PluginHost that found the demo through its entry point; it is also the process-wide host
    while this module runs (restored afterwards, and the site leaves sys.path)."""
    import ganzoo.plugins as plugins
    from ganzoo.plugins import PluginHost

    mp = pytest.MonkeyPatch()
    mp.syspath_prepend(str(site))
    h = PluginHost(strict=True, disabled=set()).load_entry_points()
    demo = next(p for p in h.plugins if p.name == "contracts-demo")
    assert (demo.status, demo.distribution, demo.version) == ("loaded", "ganzoo-contracts-demo", "0.1.0")
    import ganzoo_contracts_demo

    assert Path(ganzoo_contracts_demo.__file__).resolve().is_relative_to(site.resolve())
    mp.setattr(plugins, "_HOST", h)
    yield h
    mp.undo()


@pytest.fixture(scope="module")
def env(site) -> dict[str, str]:
    return {"PYTHONPATH": str(site), "GANZOO_STRICT_PLUGINS": "1"}


def cli(env: dict[str, str], *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    res = run_ganzoo(*args, env=env, timeout=timeout)
    assert res.returncode == 0, f"ganzoo {' '.join(args)} failed ({res.returncode}):\n{res.stdout[-2000:]}\n{res.stderr[-3000:]}"
    return res


def train(host: Any, run_dir: Path, *, dataset: str, arch: str, loss: str, steps: int, mitigations: list[str] = (),
          batch_size: int = 16, sets: dict[str, Any] | None = None) -> Any:
    """Train in this process (the CLI costs a PyTorch start-up per call) with the demo host."""
    from ganzoo.engine.api import start_run

    user = {"run": {"dataset": dataset, "arch": arch, "loss": loss, "mitigations": list(mitigations), "steps": steps,
                    "batch_size": batch_size, "device": "cpu", "seed": 0},
            "train": dict(FAST)}
    for section, values in (sets or {}).items():
        user.setdefault(section, {}).update(values)
    result = start_run(user, run_dir, quiet=True, host=host)
    assert result.status == "completed" and result.step == steps
    return result


# --------------------------------------------------------------------------- RaGAN


def test_ragan_matches_a_hand_computation_of_the_published_formulas(host, tmp_path):
    loss = host.losses.get("ragan-demo").with_options({})
    assert loss.needs_real_logits is True
    real = torch.tensor([1.5, -0.5, 0.25, 2.0])
    fake = torch.tensor([-1.0, 0.5, -2.0, 0.0])

    # Jolicoeur-Martineau 2018, eq. (7)-(8) with sigma the sigmoid, written out term by term.
    sig = torch.sigmoid
    mr, mf = real.mean(), fake.mean()
    d_hand = -torch.log(sig(real - mf)).mean() - torch.log(1 - sig(fake - mr)).mean()
    g_hand = -torch.log(sig(fake - mr)).mean() - torch.log(1 - sig(real - mf)).mean()
    # ... and once more in plain floats, independently of torch.
    r, f = real.tolist(), fake.tolist()
    mrf, mff = sum(r) / len(r), sum(f) / len(f)
    s = lambda t: 1 / (1 + math.exp(-t))  # noqa: E731
    d_float = -sum(math.log(s(a - mff)) for a in r) / len(r) - sum(math.log(1 - s(b - mrf)) for b in f) / len(f)
    g_float = -sum(math.log(s(b - mrf)) for b in f) / len(f) - sum(math.log(1 - s(a - mff)) for a in r) / len(r)

    d = loss.discriminator_loss(real, fake)
    g = loss.generator_loss(real, fake)
    assert d.dim() == 0 and g.dim() == 0
    assert d.item() == pytest.approx(d_hand.item(), abs=1e-6) == pytest.approx(d_float, abs=1e-6)
    assert g.item() == pytest.approx(g_hand.item(), abs=1e-6) == pytest.approx(g_float, abs=1e-6)
    # Worked out by hand: E r = 0.8125, E f = -0.625; D: mean softplus(-[2.125, 0.125, 0.875, 2.625]) = 0.29059
    # + mean softplus([-1.8125, -0.3125, -2.8125, -0.8125]) = 0.28182; G: 1.71930 + 1.72810.
    assert d.item() == pytest.approx(0.5724084, abs=1e-6) and g.item() == pytest.approx(3.4474084, abs=1e-6)
    # Relativistic *average*: every fake's term depends on every real logit (not only its pair).
    fk = fake.clone().requires_grad_(True)
    rl = real.clone().requires_grad_(True)
    loss.generator_loss(rl, fk).backward()
    ref_r, ref_f = rl.clone().detach().requires_grad_(True), fake.clone().requires_grad_(True)
    (-torch.log(sig(ref_f - ref_r.mean())).mean() - torch.log(1 - sig(ref_r - ref_f.mean())).mean()).backward()
    assert torch.allclose(fk.grad, ref_f.grad, atol=1e-6) and torch.allclose(rl.grad, ref_r.grad, atol=1e-6)
    assert (fk.grad < 0).all()  # G pushes every fake logit up
    with pytest.raises(ValueError, match="real logits"):
        loss.generator_loss(None, fake)
    # The engine gives the generator's term real logits (the loss raises without them).
    train(host, tmp_path / "ragan", dataset="ring8", arch="mlp", loss="ragan-demo", steps=2, sets={"arch": {"hidden": 8}})


# --------------------------------------------------------------------------- instance noise


def read_schedule(path: Path) -> dict[int, set[float]]:
    out: dict[int, set[float]] = {}
    for line in path.read_text().splitlines():
        rec = json.loads(line)
        out.setdefault(rec["step"], set()).add(round(rec["std"], 9))
    return out


def test_instance_noise_follows_its_schedule_across_a_resume(host, env, tmp_path):
    sigma0 = 0.5
    straight_log, resumed_log = tmp_path / "straight.jsonl", tmp_path / "resumed.jsonl"
    noise = {"sigma0": sigma0}
    train(host, tmp_path / "straight", dataset="ring8", arch="mlp", loss="ns-gan", steps=4,
          mitigations=["instance-noise-demo"],
          sets={"arch": {"hidden": 8}, "mitigation": {"instance-noise-demo": {**noise, "log": str(straight_log)}}})
    train(host, tmp_path / "resumed", dataset="ring8", arch="mlp", loss="ns-gan", steps=2,
          mitigations=["instance-noise-demo"],
          sets={"arch": {"hidden": 8}, "mitigation": {"instance-noise-demo": {**noise, "log": str(resumed_log)}}})
    assert (tmp_path / "resumed" / "checkpoints" / "step-00000002.pt").is_file()
    res = cli(env, "resume", str(tmp_path / "resumed"), "--steps", "4", "--quiet")
    assert "step 4" in res.stdout + res.stderr
    assert (tmp_path / "resumed" / "checkpoints" / "step-00000004.pt").is_file()
    assert (tmp_path / "straight" / "checkpoints" / "step-00000004.pt").is_file()

    straight, resumed = read_schedule(straight_log), read_schedule(resumed_log)
    # Linear annealing to 0 over the run: std(k) = sigma0 * (1 - k / 4), the same at every call of a step.
    assert straight == {k: {round(sigma0 * (1 - k / 4), 9)} for k in range(4)}
    # Before the resume the run was 2 steps long; after it (extended to 4) the noise is exactly the
    # uninterrupted run's at the same step.
    assert resumed[0] == {sigma0} and resumed[1] == {round(sigma0 / 2, 9)}
    for k in (2, 3):
        assert resumed[k] == straight[k], (k, resumed[k], straight[k])
    recs = [json.loads(line) for line in resumed_log.read_text().splitlines()]
    assert {(r["role"], r["player"]) for r in recs if r["step"] == 3} == {
        ("real", "discriminator"), ("fake", "discriminator"), ("fake", "generator")}
    assert {r["total_steps"] for r in recs if r["step"] >= 2} == {4}

    # The noise really has that standard deviation.
    from ganzoo import BatchContext

    spec = host.mitigations.get("instance-noise-demo").with_options({"sigma0": sigma0})
    info = host.datasets.get("ring8").with_options({"size": 10}).build(data_root=None, seed=0).info
    x = torch.zeros(20_000, 2)
    for k, want in ((0, 0.5), (2, 0.25), (3, 0.125), (4, 0.0)):
        ctx = BatchContext(k, 4, torch.device("cpu"), info, "real", "discriminator")
        assert float(spec.transform(x, ctx).std()) == pytest.approx(want, rel=0.03, abs=1e-7)


# --------------------------------------------------------------------------- packing + minibatch stddev


@pytest.mark.parametrize("order", [["pack-demo", "minibatch-stddev"], ["minibatch-stddev", "pack-demo"]])
def test_third_party_packing_with_builtin_minibatch_stddev_in_both_orders(host, tmp_path, order):
    from ganzoo.config import resolve
    from ganzoo.engine.components import assemble

    import ganzoo_contracts_demo.plugin as demo

    user = {"run": {"dataset": "digits-demo", "arch": "cond-demo", "loss": "ns-gan", "mitigations": order,
                    "batch_size": 16, "steps": 2, "device": "cpu"},
            "arch": {"conditional": False, "width": 4}, "dataset": {"size": 64}, "train": dict(FAST)}
    asm = assemble(resolve(user, host), host)
    D = asm.discriminator
    assert asm.batch.pack == 2 and asm.batch.group == 4
    assert asm.d_info.shape == (2, 28, 28) and asm.info.shape == (1, 28, 28)
    assert D.features[0].in_channels == 2  # D's input: two 1-channel samples per input
    stack = D.head
    assert [type(a).__name__ for a in stack.augmenters] == ["MinibatchStdDev"]
    assert stack.out.in_features == D.feature_dim + 1  # the stddev feature
    logits = D(torch.zeros(8, 2, 28, 28))
    assert logits.shape == (8,)

    demo.Pack.observed.clear()
    train(host, tmp_path / "run", dataset="digits-demo", arch="cond-demo", loss="ns-gan", steps=2, mitigations=order,
          sets={"arch": {"conditional": False, "width": 4}, "dataset": {"size": 64}})
    # In training D judged 16 / 2 = 8 packed inputs of 2 channels, real and fake alike.
    assert demo.Pack.observed and set(demo.Pack.observed) == {((8, 2, 28, 28), (8, 2, 28, 28))}
    state = torch.load(tmp_path / "run" / "checkpoints" / "step-00000002.pt", map_location="cpu", weights_only=False)
    d_state = state["discriminator"]
    assert d_state["features.0.weight"].shape[1] == 2
    assert d_state["head.out.weight"].shape == (1, D.feature_dim + 1)


# --------------------------------------------------------------------------- conditional architecture


@pytest.fixture(scope="module")
def cond_run(host, tmp_path_factory) -> Path:
    """cond-demo trained conditionally on digits-demo (a few steps, as a real run directory)."""
    run_dir = tmp_path_factory.mktemp("cond") / "run"
    train(host, run_dir, dataset="digits-demo", arch="cond-demo", loss="ragan-demo", steps=4, batch_size=20,
          sets={"dataset": {"size": 200}})
    return run_dir


# --------------------------------------------------------------------------- metric


def test_plugin_metric_in_eval_output(host, env, cond_run):
    res = cli(env, "eval", str(cond_run), "--metrics", "mean-distance-demo", "--num-samples", "40", "--json")
    out = json.loads(res.stdout)
    assert set(out["values"]) == {"mean_distance"}
    assert out["metrics"]["mean_distance"]["metric_plugin"] == "mean-distance-demo"
    saved = json.loads((cond_run / "eval.json").read_text())
    assert saved["values"]["mean_distance"] == pytest.approx(out["values"]["mean_distance"])
    # The value is the metric's computation: recompute it from the same generator samples and real data.
    from ganzoo.metrics.sources import source_from_run

    source = source_from_run(cond_run, host=host)
    data = host.datasets.get("digits-demo").with_options({"size": 200}).build(data_root=None, seed=0)
    fake = source.sample(40, seed=0, batch_size=128, device="cpu").flatten(1)
    real = data.tensors[0][torch.linspace(0, 199, 40).long()].flatten(1)
    assert float((fake.mean(0) - real.mean(0)).norm()) == pytest.approx(out["values"]["mean_distance"], rel=1e-4)


SUITE = """
name = "contracts-demo"
description = "a plugin metric in a bench report"
seeds = 1
steps = 2
metrics = ["mean_distance"]
dataset = "ring8"
arch = "mlp"
eval_samples = 64
set = {{ "arch.hidden" = 8, "run.batch_size" = 16, "train.log_every" = 1 }}

[[variants]]
name = "ragan"
loss = "ragan-demo"
"""


def test_plugin_metric_in_bench_report(env, tmp_path):
    suite = tmp_path / "suite.toml"
    suite.write_text(textwrap.dedent(SUITE.format()))
    out = tmp_path / "bench"
    res = run_ganzoo("bench", "--suite", str(suite), "--out", str(out), "--workers", "1", "--device", "cpu", "--quiet",
                     env=env, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-3000:]
    results = json.loads((out / "results.json").read_text())
    assert "mean_distance" in json.dumps(results)
    report = (out / "report.md").read_text()
    assert "mean distance" in report or "mean_distance" in report


# --------------------------------------------------------------------------- conditional export + generate


def test_conditional_architecture_exports_and_generates_per_class(host, env, cond_run, tmp_path):
    import onnxruntime as ort

    from ganzoo.specs import generator_num_classes

    cfg_text = (cond_run / "config.toml").read_text()
    assert 'arch = "cond-demo"' in cfg_text and 'dataset = "digits-demo"' in cfg_text
    cli(env, "export", str(cond_run))
    onnx_path = cond_run / "generator.onnx"
    assert onnx_path.is_file()
    sess = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    inputs = {i.name: i for i in sess.get_inputs()}
    assert "labels" in inputs and "int64" in inputs["labels"].type

    samples = {}
    for k in (3, 5):
        out = tmp_path / f"class{k}.npy"
        res = cli(env, "generate", str(onnx_path), "-n", "8", "--class", str(k), "-o", str(out))
        assert "onnxruntime" in res.stdout or "ExecutionProvider" in res.stdout
        samples[k] = np.load(out)
        assert samples[k].shape == (8, 1, 28, 28) and samples[k].dtype == np.float32
        assert np.abs(samples[k]).max() <= 1.0
    assert np.abs(samples[3] - samples[5]).max() > 1e-3  # the class changes the samples

    # The same latents through the PyTorch generator of the checkpoint give the same samples.
    state = torch.load(sorted((cond_run / "checkpoints").glob("step-*.pt"))[-1], map_location="cpu", weights_only=False)
    info = host.datasets.get("digits-demo").with_options({"size": 200}).build(data_root=None, seed=0).info
    G = host.architectures.get("cond-demo").with_options({}).build_generator(info)
    G.load_state_dict(state["generator"])
    G.eval()
    assert generator_num_classes(G) == 10
    z = np.random.default_rng(0).standard_normal((8, G.latent_dim), dtype=np.float32)
    for k in (3, 5):
        with torch.no_grad():
            ref = G(torch.from_numpy(z), torch.full((8,), k, dtype=torch.long)).numpy()
        assert np.abs(samples[k] - ref).max() < 1e-4, (k, float(np.abs(samples[k] - ref).max()))
