"""One test per hook (``test_hook_<name>``; test_guard_rails.py requires it): each hook is exercised
for real, through a PluginHost with an in-process plugin passed as ``host=`` to the engine/export."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

from ganzoo import hookimpl
from ganzoo.engine.api import resume_run, start_run
from ganzoo.rundir import load_generator
from ganzoo.errors import TrainingDivergedError
from ganzoo.plugins import PluginHost
from ganzoo.testing.engine import run_tree
from tests.toolkit import scratch_plugin as scratch


def host_with(*plugins: tuple[Any, str]) -> PluginHost:
    """The installed plugins plus ``plugins`` (object, name)."""
    host = PluginHost(strict=True, disabled=set()).load_entry_points()
    for obj, name in plugins:
        host.add_plugin(obj, name)
    return host


class Recorder:
    """Records every lifecycle hook call."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    @hookimpl
    def ganzoo_train_start(self, run_dir, config, step):
        self.calls.append(("train_start", {"run_dir": run_dir, "config": config, "step": step}))

    @hookimpl
    def ganzoo_log(self, run_dir, step, metrics):
        self.calls.append(("log", {"run_dir": run_dir, "step": step, "metrics": dict(metrics)}))

    @hookimpl
    def ganzoo_checkpoint_saved(self, run_dir, step, path):
        self.calls.append(("checkpoint_saved", {"run_dir": run_dir, "step": step, "path": path}))

    @hookimpl
    def ganzoo_train_end(self, run_dir, step, status):
        self.calls.append(("train_end", {"run_dir": run_dir, "step": step, "status": status}))

    def of(self, hook: str) -> list[dict[str, Any]]:
        return [args for name, args in self.calls if name == hook]


def tiny(steps: int = 3, **train: Any) -> dict[str, Any]:
    return run_tree(dataset="ring8", arch="mlp", loss="ns-gan", steps=steps,
                    options={"arch": {"hidden": 16}, "dataset": {"size": 256},
                             "train": {"checkpoint_every": 2, **train}})


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory) -> tuple[Recorder, Path]:
    """A real 3-step run, then a resume to 5 steps, with the recorder installed."""
    recorder = Recorder()
    host = host_with((recorder, "recorder"))
    run_dir = tmp_path_factory.mktemp("hooks") / "run"
    assert start_run(tiny(), run_dir, host=host).status == "completed"
    assert resume_run(run_dir, steps=5, host=host).status == "completed"
    return recorder, run_dir


# --------------------------------------------------------------------------- registration hooks


def _train_with(host: PluginHost, tmp_path: Path, **run: Any) -> Path:
    tree = tiny(steps=2)
    tree["run"].update(run)
    out = tmp_path / "run"
    assert start_run(tree, out, host=host).status == "completed"
    return out


def test_hook_ganzoo_register_architectures(tmp_path):
    class Plugin:
        @hookimpl
        def ganzoo_register_architectures(self, register):
            register(scratch.ScratchArch())

    host = host_with((Plugin(), "arch-plugin"))
    assert host.architectures.entry("scratch-arch").plugin == "arch-plugin"
    out = _train_with(host, tmp_path, arch="scratch-arch")
    assert load_generator(out, host=host).generator.latent_dim == 8


def test_hook_ganzoo_register_losses(tmp_path):
    class Plugin:
        @hookimpl
        def ganzoo_register_losses(self, register):
            register(scratch.ScratchLoss())

    host = host_with((Plugin(), "loss-plugin"))
    assert host.losses.entry("scratch-loss").plugin == "loss-plugin"
    out = _train_with(host, tmp_path, loss="scratch-loss")
    assert 'loss-plugin = ""' in (out / "config.toml").read_text()


def test_hook_ganzoo_register_datasets(tmp_path):
    class Plugin:
        @hookimpl
        def ganzoo_register_datasets(self, register):
            register(scratch.ScratchDataset())

    host = host_with((Plugin(), "data-plugin"))
    assert host.datasets.entry("scratch-data").plugin == "data-plugin"
    out = _train_with(host, tmp_path, dataset="scratch-data")
    assert load_generator(out, host=host).info.name == "scratch-data"


def test_hook_ganzoo_register_mitigations(tmp_path):
    seen: list[tuple[int, ...]] = []
    roles: set[tuple[str, str]] = set()

    class Watching(scratch.ScratchMitigation):
        def transform(self, x, ctx):
            seen.append(tuple(x.shape))
            roles.add((ctx.role, ctx.player))
            return super().transform(x, ctx)

    class Plugin:
        @hookimpl
        def ganzoo_register_mitigations(self, register):
            register(Watching())

    host = host_with((Plugin(), "mitigation-plugin"))
    assert host.mitigations.entry("scratch-noise").plugin == "mitigation-plugin"
    _train_with(host, tmp_path, mitigations=["scratch-noise"])
    assert seen and all(s == (8, 2) for s in seen)
    assert roles == {("real", "discriminator"), ("fake", "discriminator"), ("fake", "generator")}


def test_hook_ganzoo_register_metrics(tmp_path):
    from ganzoo import MetricSpec, MetricValue
    from ganzoo.metrics.catalogue import value_info
    from ganzoo.metrics.evaluate import evaluate, real_samples
    from ganzoo.metrics.sources import source_from_run

    class Spread(MetricSpec):
        name = "scratch-spread"
        summary = "standard deviation of generated minus real samples"
        reference = "test"
        values = {"spread_gap": MetricValue("min", "spread gap")}

        def compute(self, ctx):
            return {"spread_gap": float(ctx.sample(200).std() - ctx.real(200).std())}

    class Plugin:
        @hookimpl
        def ganzoo_register_metrics(self, register):
            register(Spread())

    host = host_with((Plugin(), "metric-plugin"))
    assert host.metrics.entry("scratch-spread").plugin == "metric-plugin"
    assert value_info("spread_gap", host).direction == "min"  # the catalogue reads the plugin's entry
    out = _train_with(host, tmp_path)
    source = source_from_run(out, host=host)
    report = evaluate(source, ["scratch-spread"], seed=3, host=host)
    real = real_samples(source.info, source.dataset_options, None, host)(200)
    want = float(source.sample(200, seed=3).std()) - float(real.std())
    assert report.values() == {"spread_gap": pytest.approx(want, rel=1e-5)}
    assert report.find("spread_gap").protocol["metric_plugin"] == "scratch-spread"


# --------------------------------------------------------------------------- lifecycle hooks


def test_hook_ganzoo_train_start(recorded_run):
    recorder, run_dir = recorded_run
    starts = recorder.of("train_start")
    assert [s["step"] for s in starts] == [0, 3]  # a fresh start, then the resume
    assert all(s["run_dir"] == run_dir for s in starts)
    config = starts[0]["config"]
    assert config["run"]["dataset"] == "ring8" and config["run"]["steps"] == 3 and config["arch"]["hidden"] == 16
    assert "ganzoo-vector" in config["plugins"]
    assert starts[1]["config"]["run"]["steps"] == 5
    assert recorder.calls[0][0] == "train_start"


def test_hook_ganzoo_log(recorded_run):
    recorder, run_dir = recorded_run
    logs = recorder.of("log")
    assert [entry["step"] for entry in logs] == [1, 2, 3, 4, 5]
    rows = (run_dir / "metrics.jsonl").read_text().splitlines()
    assert len(rows) == 5
    for entry in logs:
        assert entry["metrics"]["step"] == entry["step"]
        assert {"loss_d", "loss_g", "img_per_s", "wall_time"} <= set(entry["metrics"])


def test_hook_ganzoo_checkpoint_saved(recorded_run):
    recorder, run_dir = recorded_run
    saved = recorder.of("checkpoint_saved")
    assert [s["step"] for s in saved] == [2, 3, 4, 5]
    for s in saved:
        assert s["path"] == run_dir / "checkpoints" / f"step-{s['step']:08d}.pt"
    assert saved[-1]["path"].is_file()


def test_hook_ganzoo_train_end(recorded_run, tmp_path):
    recorder, run_dir = recorded_run
    assert [(e["step"], e["status"]) for e in recorder.of("train_end")] == [(3, "completed"), (5, "completed")]
    assert recorder.calls[-1][0] == "train_end"

    class Interrupter(Recorder):
        @hookimpl
        def ganzoo_log(self, run_dir, step, metrics):
            if step == 2:
                os.kill(os.getpid(), signal.SIGINT)  # as Ctrl-C: the engine checkpoints and stops

    interrupter = Interrupter()
    result = start_run(tiny(steps=10), tmp_path / "interrupted", host=host_with((interrupter, "interrupter")))
    assert result.status == "interrupted"
    assert [(e["step"], e["status"]) for e in interrupter.of("train_end")] == [(2, "interrupted")]

    class NanLoss(scratch.ScratchLoss):
        name = "nan-loss"

        def generator_loss(self, real_logits, fake_logits, ctx=None):
            return fake_logits.mean() * float("nan")

    class Plugin(Recorder):
        @hookimpl
        def ganzoo_register_losses(self, register):
            register(NanLoss())

    failing = Plugin()
    tree = tiny()
    tree["run"]["loss"] = "nan-loss"
    with pytest.raises(TrainingDivergedError):
        start_run(tree, tmp_path / "failed", host=host_with((failing, "nan")))
    assert [e["status"] for e in failing.of("train_end")] == ["failed"]


# --------------------------------------------------------------------------- export


class Doubled(nn.Module):
    """Computes the same function as the generator, differently (the weights of the last layer halved, output doubled)."""

    def __init__(self, generator: nn.Module) -> None:
        super().__init__()
        self.generator = generator
        last = generator.net[-1]
        with torch.no_grad():
            last.weight.mul_(0.5)
            last.bias.mul_(0.5)
        self.latent_dim = generator.latent_dim

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.generator(z) * 2


def test_hook_ganzoo_prepare_export(recorded_run, tmp_path):
    import onnx

    from ganzoo.export import ExportError, export_generator

    calls: list[dict[str, Any]] = []

    class Exporter:
        @hookimpl
        def ganzoo_prepare_export(self, architecture, generator, info):
            calls.append({"architecture": architecture, "generator": generator, "info": info})
            return Doubled(generator) if architecture == "mlp" else None

    _, run_dir = recorded_run
    loaded = load_generator(run_dir)
    host = host_with((Exporter(), "exporter"))
    path = tmp_path / "g.onnx"
    export_generator(loaded.generator, loaded.info, path, architecture="mlp", host=host)
    assert len(calls) == 1 and calls[0]["info"] == loaded.info and calls[0]["generator"] is not loaded.generator
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert "Mul" in ops  # the replacement's doubling is what was exported, and it still matches PyTorch

    class Broken:
        @hookimpl
        def ganzoo_prepare_export(self, architecture, generator, info):
            return "not a module"

    with pytest.raises(ExportError, match="returned str, not an nn.Module"):
        export_generator(loaded.generator, loaded.info, tmp_path / "h.onnx", architecture="mlp",
                         host=host_with((Broken(), "broken")))
    assert not (tmp_path / "h.onnx").exists()
