"""onnxruntime vs PyTorch eager on the same DCGAN generator (``ganzoo export`` path).

For 64x64 and 32x32 RGB generators (default width 64, latent 100) and batch sizes 1 and 64, times
host-to-host inference (latents in host memory -> samples in host memory) with:
  torch-cpu, torch-cuda (when available) and onnxruntime CPU / CUDA / TensorRT providers (when usable),
after warm-up, as the median of repeated runs (backends interleaved round-robin; the process CPU
time per call is reported too, as a load-independent measure of work), and reports each onnxruntime time's speedup over
PyTorch on the same device (TensorRT is compared with torch-cuda).

    python benchmarks/onnx_inference.py [--repeat 30] [--warmup 5] [--width 64] [--threads T] [--json]
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ganzoo import runtime
from ganzoo.export import export_generator
from ganzoo.export.metadata import build_metadata
from ganzoo.plugins import get_host

RESOLUTIONS = (64, 32)
BATCHES = (1, 64)


def build_generator(resolution: int, width: int, latent_dim: int) -> tuple[torch.nn.Module, Any]:
    """A DCGAN generator from the registry with BatchNorm statistics moved off their defaults."""
    from ganzoo import DataInfo

    info = DataInfo(name="bench", kind="image", shape=(3, resolution, resolution))
    spec = get_host().architectures.get("dcgan").with_options({"width": width, "latent_dim": latent_dim})
    torch.manual_seed(0)
    g = spec.build_generator(info)
    g.train()
    with torch.no_grad():
        for _ in range(2):
            g(torch.randn(32, latent_dim))
    return g.eval(), info


def timed(runners: dict[str, Callable[[], Any]], warmup: int, repeat: int) -> dict[str, tuple[list[float], list[float]]]:
    """Wall and process-CPU seconds per call; backends run round-robin so that background load
    affects all of them alike."""
    for fn in runners.values():
        for _ in range(warmup):
            fn()
    out: dict[str, tuple[list[float], list[float]]] = {name: ([], []) for name in runners}
    for _ in range(repeat):
        for name, fn in runners.items():
            c0, t0 = time.process_time(), time.perf_counter()
            fn()
            t1, c1 = time.perf_counter(), time.process_time()
            out[name][0].append(t1 - t0)
            out[name][1].append(c1 - c0)
    return out


def torch_runner(g: torch.nn.Module, z: np.ndarray, device: str) -> Callable[[], Any]:
    model = g if device == "cpu" else copy.deepcopy(g).to(device)
    zt = torch.from_numpy(z)

    def run() -> Any:
        with torch.inference_mode():
            out = model(zt.to(device)).cpu()
        return out

    return run


def backends(g: torch.nn.Module, onnx_path: Path, threads: int = 0) -> dict[str, Callable[[np.ndarray], Callable[[], Any]]]:
    """Name -> factory(z) -> zero-argument runner, for every backend usable on this machine."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = threads
    out: dict[str, Callable[[np.ndarray], Callable[[], Any]]] = {"torch-cpu": lambda z: torch_runner(g, z, "cpu")}
    if torch.cuda.is_available():
        out["torch-cuda"] = lambda z: torch_runner(g, z, "cuda")
    for provider in ("cpu", "cuda", "tensorrt"):
        try:
            session = runtime.load(onnx_path, provider, session_options=options)
        except runtime.ProviderError:
            continue
        out[f"ort-{provider}"] = lambda z, s=session: (lambda: s.run(z))
    return out


BASELINE = {"ort-cpu": "torch-cpu", "ort-cuda": "torch-cuda", "ort-tensorrt": "torch-cuda"}


def device_info() -> dict[str, Any]:
    import onnxruntime as ort

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    info: dict[str, Any] = {
        "cpu": cpu, "cpu_count": os.cpu_count(), "torch": torch.__version__, "torch_threads": torch.get_num_threads(),
        "onnxruntime": ort.__version__, "ort_providers": ort.get_available_providers(),
        "cuda_devices": runtime.cuda_device_count(), "python": platform.python_version(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average_1m"] = round(os.getloadavg()[0], 2)
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def run(width: int, latent_dim: int, warmup: int, repeat: int, folder: Path, threads: int = 0) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    for res in RESOLUTIONS:
        g, info = build_generator(res, width, latent_dim)
        path = folder / f"dcgan{res}.onnx"
        meta = build_metadata(info=info, latent_dim=latent_dim, latent_distribution="normal", architecture="dcgan")
        report = export_generator(g, info, path, architecture="dcgan", metadata=meta)
        factories = backends(g, path, threads)
        for batch in BATCHES:
            z = np.random.default_rng(0).standard_normal((batch, latent_dim), dtype=np.float32)
            medians: dict[str, float] = {}
            results = timed({name: factory(z) for name, factory in factories.items()}, warmup, repeat)
            for name, (times, cpu) in results.items():
                medians[name] = statistics.median(times)
                rows.append({
                    "resolution": res, "batch": batch, "backend": name, "median_ms": medians[name] * 1e3,
                    "p10_ms": float(np.percentile(times, 10)) * 1e3, "p90_ms": float(np.percentile(times, 90)) * 1e3,
                    "cpu_ms": statistics.median(cpu) * 1e3, "samples_per_s": batch / medians[name],
                    "exporter": report.exporter,
                })
            cpu = {r["backend"]: r["cpu_ms"] for r in rows[-len(factories):]}
            for row in rows[-len(factories):]:
                base = BASELINE.get(row["backend"])
                row["speedup_vs_torch"] = medians[base] / medians[row["backend"]] if base in medians else None
                row["cpu_speedup_vs_torch"] = cpu[base] / cpu[row["backend"]] if base in cpu and cpu[row["backend"]] else None
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| resolution | batch | backend | median ms | p10-p90 ms | CPU ms | samples/s | speedup vs torch "
            "(wall) | speedup vs torch (CPU time) |")
    lines = [head, "|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        speed = f"{r['speedup_vs_torch']:.2f}x" if r["speedup_vs_torch"] else "-"
        cpu_speed = f"{r['cpu_speedup_vs_torch']:.2f}x" if r.get("cpu_speedup_vs_torch") else "-"
        lines.append(
            f"| {r['resolution']} | {r['batch']} | {r['backend']} | {r['median_ms']:.2f} | "
            f"{r['p10_ms']:.2f}-{r['p90_ms']:.2f} | {r['cpu_ms']:.2f} | {r['samples_per_s']:.0f} | {speed} | {cpu_speed} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--width", type=int, default=64, help="DCGAN base width (default 64)")
    parser.add_argument("--latent-dim", type=int, default=100)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--threads", type=int, default=0,
                        help="intra-op threads for torch and onnxruntime on the CPU (0: each library's default)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        rows = run(args.width, args.latent_dim, args.warmup, args.repeat, Path(folder), args.threads)
    info = device_info()
    if args.json:
        print(json.dumps({"device": info, "settings": vars(args), "results": rows}, indent=2))
    else:
        print("device: " + ", ".join(f"{k}={v}" for k, v in info.items()))
        print(f"DCGAN generator width {args.width}, latent {args.latent_dim}, RGB; median of {args.repeat} runs "
              f"after {args.warmup} warm-up; host-to-host; CPU threads {args.threads or 'default'}")
        print(table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
