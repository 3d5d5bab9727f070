"""``ganzoo export`` + ``ganzoo generate`` through the CLI, and generate's user errors."""

from __future__ import annotations

import subprocess
import tracemalloc

import numpy as np
import onnx
import pytest
from click.testing import CliRunner

from ganzoo import runtime
from ganzoo.cli import cli
from ganzoo.runtime import output as out_mod
from ganzoo.runtime.session import GeneratorSession
from tests.conftest import run_ganzoo


def _run(*args: str):
    return CliRunner().invoke(cli, [str(a) for a in args])


def test_export_and_generate_round_trip(ring8_run, tmp_path):
    target = tmp_path / "exports" / "ring8.onnx"
    result = _run("export", ring8_run, "-o", target)
    assert result.exit_code == 0, result.output
    assert f"Exported {target}" in result.stdout and "opset 18" in result.stdout and "max abs diff" in result.stdout

    result = _run("generate", target, "-n", 100, "--seed", 3, "-o", tmp_path / "s.npy")
    assert result.exit_code == 0, result.output
    x = np.load(tmp_path / "s.npy")
    assert x.shape == (100, 2) and x.dtype == np.float32
    np.testing.assert_array_equal(x, runtime.sample(target, 100, seed=3, batch_size=7))  # any batch size, same samples

    result = _run("generate", target, "-n", 500, "-o", tmp_path / "s.png")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "s.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_generate_images_png(tmp_path):
    from ganzoo.export import export_generator
    from tests.export.conftest import build_generator

    g, info = build_generator("dcgan", (1, 28, 28), arch_opts={"width": 8, "latent_dim": 16})
    export_generator(g, info, tmp_path / "g.onnx", architecture="dcgan", exporter="torchscript",
                     metadata={"ganzoo.latent_dim": "16", "ganzoo.sample_shape": "[1, 28, 28]"})
    result = _run("generate", tmp_path / "g.onnx", "-n", 10, "-o", tmp_path / "grid.png", "--scale", 1)
    assert result.exit_code == 0, result.output
    from PIL import Image

    img = Image.open(tmp_path / "grid.png")
    assert img.mode == "L" and img.size == (2 + 4 * 30, 2 + 3 * 30)  # 4 columns, 3 rows, 2 px padding
    result = _run("generate", tmp_path / "g.onnx", "-n", 10, "-o", tmp_path / "big.png")
    assert result.exit_code == 0, result.output
    assert Image.open(tmp_path / "big.png").size == (5 * 122, 5 * 92)  # by default at least 512 px wide


def _strip_metadata(src, dst, *, dynamic_latent: bool = True) -> None:
    model = onnx.load(str(src))
    del model.metadata_props[:]
    if dynamic_latent:
        model.graph.input[0].type.tensor_type.shape.dim[1].dim_param = "latent"
    onnx.save(model, str(dst))


@pytest.mark.parametrize("args, expected", [
    (["-n", "0"], "-n 0: expected 1 to"),
    (["-n", "-5"], "-n -5: expected 1 to"),
    (["-n", "5000", "-o", "big.png"], "a PNG holds at most 4096 samples"),
    (["-n", "5", "-o", "out.txt"], "must end in .png or .npy"),
    (["-n", "5", "--batch-size", "0"], "--batch-size 0: expected 1 to 65,536"),
    (["-n", "5", "--batch-size", "1000000000"], "--batch-size 1000000000: expected 1 to 65,536"),
    (["-n", "5", "--latent-dim", "3"], "takes latent_dim=8 (from its ganzoo.latent_dim metadata)"),
])
def test_generate_bad_arguments(ring8_onnx, tmp_path, args, expected):
    if "-o" not in args:
        args = [*args, "-o", "out.npy"]
    args = [str(tmp_path / a) if a.endswith((".png", ".txt", ".npy")) else a for a in args]
    result = _run("generate", ring8_onnx, *args)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_generate_bad_model_files(ring8_onnx, tmp_path):
    text = tmp_path / "notes.onnx"
    text.write_text("not a model\n")
    truncated = tmp_path / "trunc.onnx"
    truncated.write_bytes(ring8_onnx.read_bytes()[:300])
    cases = {
        tmp_path / "missing.onnx": "missing.onnx': no such file",
        text: "is not a valid ONNX model: cannot parse it",
        truncated: "is not a valid ONNX model",
        tmp_path: "is a directory, not an ONNX file",
    }
    for path, expected in cases.items():
        result = _run("generate", path, "-n", 3, "-o", tmp_path / "x.npy")
        assert result.exit_code == 2, (path, result.output)
        assert expected in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert not (tmp_path / "x.npy").exists()


def test_model_without_metadata(ring8_onnx, tmp_path):
    bare = tmp_path / "bare.onnx"
    _strip_metadata(ring8_onnx, bare)
    result = _run("generate", bare, "-n", 3, "-o", tmp_path / "x.npy")
    assert result.exit_code == 2 and "has no ganzoo metadata" in result.stderr and "--latent-dim" in result.stderr
    result = _run("generate", bare, "-n", 3, "-o", tmp_path / "x.npy", "--latent-dim", 8)
    assert result.exit_code == 0, result.output
    assert np.load(tmp_path / "x.npy").shape == (3, 2)
    # A static latent size in the graph is enough.
    static = tmp_path / "static.onnx"
    _strip_metadata(ring8_onnx, static, dynamic_latent=False)
    g = runtime.load(static, "cpu")
    assert g.latent_dim == 8 and g.sample_shape == (2,) and g.metadata == {}


def _run_without_gpu(*args: object) -> subprocess.CompletedProcess[str]:
    """``ganzoo`` in a fresh process that sees no CUDA device, on any machine."""
    return run_ganzoo(*map(str, args), env={"CUDA_VISIBLE_DEVICES": ""}, timeout=120)


def test_explicit_gpu_provider_without_device(ring8_onnx, tmp_path):
    for provider in ("cuda", "tensorrt"):
        result = _run_without_gpu("generate", ring8_onnx, "-n", 3, "-o", tmp_path / "x.npy", "--provider", provider)
        assert result.returncode == 2 and f"--provider {provider}:" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    result = _run_without_gpu("generate", ring8_onnx, "-n", 3, "-o", tmp_path / "x.npy", "--provider", "auto")
    assert result.returncode == 0 and result.stderr == "" and "(CPUExecutionProvider)" in result.stdout


def test_huge_n_streams_to_npy(ring8_onnx, tmp_path, monkeypatch):
    calls: list[int] = []
    real_run = GeneratorSession.run

    def counting_run(self, z, labels=None):
        calls.append(len(z))
        return real_run(self, z, labels)

    monkeypatch.setattr(GeneratorSession, "run", counting_run)
    result = _run("generate", ring8_onnx, "-n", 20000, "--batch-size", 512, "-o", tmp_path / "big.npy")
    assert result.exit_code == 0, result.output
    assert max(calls) == 512 and sum(calls) == 20000 and len(calls) == 40
    x = np.load(tmp_path / "big.npy", mmap_mode="r")
    assert x.shape == (20000, 2)
    monkeypatch.setattr(GeneratorSession, "run", real_run)
    np.testing.assert_array_equal(x[-100:], runtime.sample(ring8_onnx, 20000, batch_size=4096)[-100:])


def test_npy_writer_memory_is_bounded(tmp_path):
    """64 MB of samples written with well under 64 MB of Python memory: one batch at a time."""
    batch = 1 << 18  # floats per sample row block: 1 MB per batch

    def batches():
        for i in range(64):
            yield np.full((16, batch // 16), i, dtype=np.float32)

    tracemalloc.start()
    try:
        shape = out_mod.write_npy(tmp_path / "x.npy", batches(), 64 * 16)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert shape == (1024, batch // 16)
    assert peak < 8 * 2**20, peak
    x = np.load(tmp_path / "x.npy", mmap_mode="r")
    assert x[0, 0] == 0 and x[-1, -1] == 63
