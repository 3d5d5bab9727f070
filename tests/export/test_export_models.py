"""Real exports of registry-built generators: dcgan at 28/32/64 px with 1 and 3 channels, every
mitigation that changes the generator, a plugin's ``ganzoo_prepare_export`` hook, fp16."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import onnx
import pytest
import torch
from torch import nn

from ganzoo import DataInfo, SetupContext, hookimpl, runtime
from ganzoo.errors import ConfigError, IncompatibleError
from ganzoo.export import export_generator
from ganzoo.export.validate import reference
from ganzoo.plugins import PluginHost, get_host
from tests.export.conftest import build_generator

DCGAN_OPTS = {"width": 8, "latent_dim": 16}


ARCHS = [("dcgan", (3, 32, 32), DCGAN_OPTS, "dcgan32"),
         ("mlp", (2,), {"hidden": 16, "latent_dim": 8, "g_batch_norm": True}, "mlp")]


def _accepts(spec: Any, shape: tuple[int, ...]) -> bool:
    """Whether the configured mitigation's ``check`` accepts data of ``shape`` (some are for vectors or images only)."""
    kind = "image" if len(shape) == 3 else "vector"
    info = DataInfo(name=f"fake-{kind}", kind=kind, shape=shape, value_range=(-1.0, 1.0))
    ctx = SetupContext(info=info, batch_size=8, total_steps=10, device=torch.device("cpu"), loss=get_host().losses.get("ns-gan"))
    try:
        spec.check(ctx)
    except IncompatibleError:
        return False
    return True


def _generator_changing_configs() -> list[Any]:
    """(name, options, architecture) for every registered mitigation, and every boolean option of it switched on,
    that reports ``changes_generator`` (so new mitigations are covered without editing this test), on each test
    architecture whose data the mitigation accepts (at least one: a mitigation that accepts neither fails here)."""
    params = []
    for name in get_host().mitigations.names():
        spec = get_host().mitigations.get(name)
        configs: list[dict[str, Any]] = [{}]
        configs += [{key: True} for key, opt in spec.options.items() if isinstance(opt.default, bool) and not opt.default]
        for opts in configs:
            configured = spec.with_options(opts, prefix=f"mitigation.{name}")
            if configured.changes_generator:
                label = name + "".join(f"-{k}" for k in opts)
                archs = [a for a in ARCHS if _accepts(configured, a[1])]
                assert archs, f"{label} accepts neither test architecture"
                params += [pytest.param(name, opts, arch, shape, arch_opts, id=f"{arch_id}-{label}")
                           for arch, shape, arch_opts, arch_id in archs]
    return params


def _roundtrip(g: nn.Module, info: Any, path: Path, spread: bool = True, **kw: Any) -> runtime.GeneratorSession:
    report = export_generator(g, info, path, architecture=kw.pop("architecture", "dcgan"),
                              metadata={"ganzoo.latent_dim": str(g.latent_dim), "ganzoo.sample_shape": str(list(info.shape))},
                              **kw)
    assert path.is_file() and report.size_bytes == path.stat().st_size
    assert set(report.max_abs_diff) == {1, 7, 64}
    assert max(report.max_abs_diff.values()) <= (1e-4 if report.precision == "fp32" else 5e-2)
    assert not [p for p in path.parent.iterdir() if p.name.endswith(".tmp")]
    session = runtime.load(path, "cpu")
    assert session.latent_dim == g.latent_dim and session.sample_shape == tuple(info.shape)
    # Same latents through onnxruntime and PyTorch; a sample alone equals it inside a batch (inference BatchNorm).
    z = np.random.default_rng(5).standard_normal((9, g.latent_dim), dtype=np.float32)
    got = session.run(z)
    assert got.shape == (9, *info.shape) and got.dtype == np.float32
    tol = 1e-4 if report.precision == "fp32" else 5e-2
    np.testing.assert_allclose(got, reference(g, z, None), atol=tol, rtol=0)
    np.testing.assert_allclose(session.run(z[3:4])[0], got[3], atol=1e-5, rtol=0)
    if info.kind == "image":
        assert got.min() >= -1.0 and got.max() <= 1.0
    if spread:
        assert got.std() > 0.05  # the parity check compares real signal, not near-zero outputs
    return session


@pytest.mark.parametrize("resolution", [28, 32, 64])
@pytest.mark.parametrize("channels", [1, 3])
def test_dcgan_export_round_trip(tmp_path, resolution, channels):
    g, info = build_generator("dcgan", (channels, resolution, resolution), arch_opts=DCGAN_OPTS)
    _roundtrip(g, info, tmp_path / "g.onnx")


@pytest.mark.parametrize("name, opts, arch, shape, arch_opts", _generator_changing_configs())
def test_generator_mitigation_export(tmp_path, name, opts, arch, shape, arch_opts):
    g, info = build_generator(arch, shape, arch_opts=arch_opts, mitigations=[(name, opts)])
    before = reference(g, np.ones((2, g.latent_dim), np.float32), None)
    _roundtrip(g, info, tmp_path / "g.onnx", spread=False, architecture=arch)  # normalised weights: small outputs
    graph_ops = {n.op_type for n in onnx.load(str(tmp_path / "g.onnx")).graph.node}
    assert not graph_ops & {"ReduceL2", "LpNormalization", "Div"}, graph_ops  # plain weights, no norm computation
    # The trained generator itself is untouched (export works on a deep copy).
    np.testing.assert_array_equal(reference(g, np.ones((2, g.latent_dim), np.float32), None), before)


def test_spectral_norm_generator_is_covered():
    """The built-in spectral-norm mitigation offers generator normalisation; the export tests pick it up."""
    assert "spectral-norm" in get_host().mitigations.names(), "the built-in ganzoo-mitigations plugin is not loaded"
    assert {"dcgan32-spectral-norm-generator", "mlp-spectral-norm-generator"} <= {p.id for p in _generator_changing_configs()}


def test_mlp_export_with_batchnorm_and_fp16(tmp_path):
    g, info = build_generator("mlp", (2,), arch_opts={"hidden": 16, "latent_dim": 8, "g_batch_norm": True})
    _roundtrip(g, info, tmp_path / "g32.onnx", architecture="mlp")
    session = _roundtrip(g, info, tmp_path / "g16.onnx", architecture="mlp", fp16=True)
    assert session.metadata["ganzoo.precision"] == "fp16"
    model = onnx.load(str(tmp_path / "g16.onnx"))
    assert {i.data_type for i in model.graph.initializer if i.dims} == {onnx.TensorProto.FLOAT16}
    assert [i.type.tensor_type.elem_type for i in model.graph.input] == [onnx.TensorProto.FLOAT]
    assert [o.type.tensor_type.elem_type for o in model.graph.output] == [onnx.TensorProto.FLOAT]
    assert (tmp_path / "g16.onnx").stat().st_size < (tmp_path / "g32.onnx").stat().st_size


def test_torchscript_exporter(tmp_path):
    g, info = build_generator("dcgan", (1, 28, 28), arch_opts=DCGAN_OPTS)
    session = _roundtrip(g, info, tmp_path / "g.onnx", exporter="torchscript")
    assert session.metadata["ganzoo.exporter"] == "torchscript"
    model = onnx.load(str(tmp_path / "g.onnx"))
    for node in model.graph.node:  # inference-mode BatchNorm only
        if node.op_type == "BatchNormalization":
            assert all(not (a.name == "training_mode" and a.i) for a in node.attribute)


class _Clamped(nn.Module):
    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = g

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.g(z), -1.0, 1.0)


class _ExportPlugin:
    seen: dict[str, Any] = {}

    @hookimpl
    def ganzoo_prepare_export(self, architecture, generator, info):
        self.seen.update(architecture=architecture, info=info, training=generator.training)
        return _Clamped(generator) if architecture == "dcgan" else None


def test_prepare_export_hook_replaces_module(tmp_path):
    host = PluginHost(strict=True, disabled=set())
    host.add_plugin(_ExportPlugin(), "export-hook-test")
    g, info = build_generator("dcgan", (3, 32, 32), arch_opts=DCGAN_OPTS)
    _roundtrip(g, info, tmp_path / "g.onnx", host=host)
    assert _ExportPlugin.seen == {"architecture": "dcgan", "info": info, "training": False}
    assert "Clip" in {n.op_type for n in onnx.load(str(tmp_path / "g.onnx")).graph.node}


class _ConditionalGenerator(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.latent_dim, self.num_classes = 4, 3
        self.embed = nn.Embedding(3, 4)
        self.out = nn.Linear(8, 2)

    def forward(self, z: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.out(torch.cat([z, self.embed(labels)], dim=1))


def test_conditional_generator_takes_labels(tmp_path):
    from ganzoo import DataInfo
    from ganzoo.export.metadata import build_metadata

    torch.manual_seed(0)
    g = _ConditionalGenerator().eval()
    info = DataInfo(name="fake", kind="vector", shape=(2,), num_classes=3)
    meta = build_metadata(info=info, latent_dim=4, latent_distribution="uniform", architecture="cond", num_classes=3)
    export_generator(g, info, tmp_path / "c.onnx", architecture="cond", metadata=meta, latent_distribution="uniform")
    model = onnx.load(str(tmp_path / "c.onnx"))
    labels = model.graph.input[1]
    assert labels.name == "labels" and labels.type.tensor_type.elem_type == onnx.TensorProto.INT64
    assert labels.type.tensor_type.shape.dim[0].dim_param
    s = runtime.load(tmp_path / "c.onnx", "cpu")
    assert s.num_classes == 3 and s.latent_distribution == "uniform"
    z = np.full((3, 4), 0.5, np.float32)
    y = np.array([0, 1, 2])
    expected = g(torch.from_numpy(z), torch.from_numpy(y)).detach().numpy()
    np.testing.assert_allclose(s.run(z, y), expected, atol=1e-5)
    assert s.sample(10, seed=1).shape == (10, 2)
    np.testing.assert_array_equal(s.sample(5, labels=2, batch_size=2), s.sample(5, labels=[2] * 5))
    with pytest.raises(ConfigError, match="labels: expected values in 0..2"):
        s.sample(2, labels=[0, 3])
