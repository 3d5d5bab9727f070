"""``ganzoo.runtime`` and the generate command work where importing torch fails."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import numpy as np

from ganzoo import runtime

BLOCK_TORCH = textwrap.dedent("""
    import sys
    class _NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in ("torch", "torchvision"):
                raise ImportError(f"{name} is blocked in this test")
    sys.meta_path.insert(0, _NoTorch())
""")


def _python(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", BLOCK_TORCH + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=300)


def test_runtime_and_generate_without_torch(ring8_onnx, tmp_path):
    out = tmp_path / "s.npy"
    result = _python(f"""
        import runpy
        import ganzoo.runtime as rt
        g = rt.load({str(ring8_onnx)!r})
        assert g.latent_dim == 8 and g.sample_shape == (2,) and g.providers == ["CPUExecutionProvider"], g
        assert g.metadata["ganzoo.dataset"] == "ring8"
        x = rt.sample(g, 10, seed=4, batch_size=3)
        assert x.shape == (10, 2) and sum(len(b) for b in rt.iter_samples(g, 10, batch_size=4)) == 10
        assert not [m for m in sys.modules if m.split(".")[0] == "torch"]
        sys.argv = ["ganzoo-generate", "generate", {str(ring8_onnx)!r}, "-n", "50", "--seed", "4", "-o", {str(out)!r}]
        runpy.run_module("ganzoo.runtime", run_name="__main__")
    """)
    assert result.returncode == 0, result.stderr
    assert result.stderr == "" and "Wrote 50 samples [2]" in result.stdout
    np.testing.assert_array_equal(np.load(out), runtime.sample(ring8_onnx, 50, seed=4))


def test_generate_errors_without_torch(tmp_path):
    result = _python(f"""
        import runpy
        sys.argv = ["ganzoo-generate", "generate", {str(tmp_path / 'missing.onnx')!r}, "-n", "5", "-o", "x.npy"]
        runpy.run_module("ganzoo.runtime", run_name="__main__")
    """)
    assert result.returncode == 2 and result.stderr.strip().endswith("missing.onnx': no such file")
    assert len(result.stderr.strip().splitlines()) == 1


def test_ganzoo_entry_point_generate_without_torch(ring8_onnx, tmp_path):
    """The ``ganzoo`` console script itself starts and runs ``generate`` with torch unavailable."""
    out = tmp_path / "cli.npy"
    result = _python(f"""
        sys.argv = ["ganzoo", "generate", {str(ring8_onnx)!r}, "-n", "20", "--seed", "1", "-o", {str(out)!r}]
        from ganzoo.cli import main
        try:
            main()
        finally:
            assert not [m for m in sys.modules if m.split(".")[0] == "torch"]
    """)
    assert result.returncode == 0, result.stderr
    assert np.load(out).shape == (20, 2)
