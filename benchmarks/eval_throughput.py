"""Throughput of ``ganzoo eval``: generated images scored per second (generation + features + FID).

A DCGAN generator (default width 64, latent 100, random weights: throughput does not depend on
training) on ``shapes`` at 32 px is scored with FID against the cached reference statistics, so the
time is generation plus feature extraction of the generated images plus the FID itself. Extractors:
``classifier`` (ganzoo's domain classifier, offline) always; ``inception-v3-compat`` when its weights
are on disk ($GANZOO_FEATURE_WEIGHTS or torch hub's cache) or ``--inception`` forces it. The one-time
costs (classifier training, reference statistics) are reported separately. Wall and process CPU time
are both reported (CPU time is a load-independent measure of work on a shared machine).

    python benchmarks/eval_throughput.py [--num-samples 2000] [--batch-size 128] [--device auto] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo.engine.device import resolve_device
from ganzoo.metrics.evaluate import evaluate
from ganzoo.metrics.extractors import weights_available
from ganzoo.metrics.fidelity import resolve_extractor
from ganzoo.metrics.sources import source_from_module
from ganzoo.plugins import get_host

DATASET_OPTIONS = {"resolution": 32, "size": 5000}


def _timed(fn: Any) -> tuple[Any, float, float]:
    w, c = time.perf_counter(), time.process_time()
    out = fn()
    return out, time.perf_counter() - w, time.process_time() - c


def bench(extractor: str, *, num_samples: int, batch_size: int, device: torch.device, num_reference: int | None = None,
          repeats: int = 3) -> dict[str, Any]:
    host = get_host()
    spec = host.datasets.get("shapes").with_options(DATASET_OPTIONS, prefix="dataset")
    info = spec.build(data_root=None, seed=0).info
    arch = host.architectures.get("dcgan").with_options({}, prefix="arch")
    torch.manual_seed(0)
    G = arch.build_generator(info).to(device).eval()
    source = source_from_module(G, info, dataset_options=DATASET_OPTIONS)
    ext, setup_s, _ = _timed(lambda: resolve_extractor(extractor, info, dataset_options=DATASET_OPTIONS, device=device, host=host))
    kw = dict(extractor=ext, batch_size=batch_size, device=device, host=host, quiet=True, num_reference=num_reference)
    _, ref_s, _ = _timed(lambda: evaluate(source, ["fid"], num_samples=batch_size, **kw))  # reference stats + warm-up
    runs = [_timed(lambda: evaluate(source, ["fid"], num_samples=num_samples, seed=1, **kw)) for _ in range(repeats)]
    report, wall, cpu = min(runs, key=lambda r: r[1])  # best of ``repeats``: least disturbed by other load
    return {
        "extractor": ext.label, "device": str(device), "resolution": info.resolution, "num_samples": num_samples,
        "batch_size": batch_size, "repeats": repeats, "num_reference": num_reference or DATASET_OPTIONS["size"], "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
        "images_per_s": round(num_samples / wall, 1), "images_per_cpu_s": round(num_samples / max(cpu, 1e-9), 1),
        "setup_s": round(setup_s, 2), "reference_s": round(ref_s, 2), "fid": report.values()[f"fid[{ext.label}]"],
    }


def random_inception_weights() -> Path:
    """A weights file for torch-fidelity's Inception with random values: the same network and cost,
    for timing on machines without the real weights (the FID it gives is meaningless)."""
    from unittest import mock

    from torch import nn
    from torch_fidelity import feature_extractor_inceptionv3 as fe

    with mock.patch.object(fe, "load_state_dict_from_url", lambda *a, **k: {}), \
            mock.patch.object(nn.Module, "load_state_dict", lambda self, *a, **k: None):
        net = fe.FeatureExtractorInceptionV3("inception-v3-compat", ["2048"])
    path = Path(tempfile.mkdtemp(prefix="ganzoo-inception-random-")) / "inception-random-weights.pth"
    torch.save(net.state_dict(), path)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--num-samples", type=int, default=2000)
    ap.add_argument("--inception-samples", type=int, default=256, help="Generated samples for the Inception row.")
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    ap.add_argument("--inception", action="store_true", help="Run Inception even without local weights (downloads).")
    ap.add_argument("--inception-random", action="store_true",
                    help="Time Inception with random weights when the real ones are absent (throughput only).")
    ap.add_argument("--keep-cache", action="store_true", help="Use the normal ganzoo cache (default: a fresh temp dir).")
    ap.add_argument("--repeats", type=int, default=3, help="Timed repetitions; the fastest is reported.")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    if not args.keep_cache:
        os.environ["GANZOO_CACHE_DIR"] = tempfile.mkdtemp(prefix="ganzoo-eval-bench-")
    device = resolve_device(args.device)
    extractors = ["classifier"]
    random_weights = args.inception_random and not weights_available()
    if random_weights:
        os.environ["GANZOO_FEATURE_WEIGHTS"] = str(random_inception_weights())
    if args.inception or random_weights or weights_available() or device.type == "cuda":
        extractors.append("inception-v3-compat")
    rows = [bench(e, num_samples=args.num_samples, batch_size=args.batch_size, device=device, repeats=args.repeats)
            if e == "classifier" else
            bench(e, num_samples=args.inception_samples, batch_size=args.batch_size, device=device,
                  num_reference=args.inception_samples, repeats=1) for e in extractors]
    for r in rows:
        r["random_weights"] = bool(random_weights and r["extractor"] == "inception-v3-compat")
    meta = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpus": os.cpu_count(),
            "machine": platform.processor() or platform.machine(), "load_avg": os.getloadavg()}
    if args.json:
        print(json.dumps({"meta": meta, "results": rows}, indent=2))
        return
    print(f"ganzoo eval throughput (FID, shapes 32 px, DCGAN generator); {meta}")
    print(f"{'extractor':<22} {'device':<6} {'N':>6} {'img/s (wall)':>13} {'img/s (CPU)':>12} {'setup s':>8} {'ref s':>7}")
    for r in rows:
        print(f"{r['extractor']:<22} {r['device']:<6} {r['num_samples']:>6} {r['images_per_s']:>13} "
              f"{r['images_per_cpu_s']:>12} {r['setup_s']:>8} {r['reference_s']:>7}"
              + ("  (random weights: timing only)" if r["random_weights"] else ""))
    if "inception-v3-compat" not in extractors:
        print("(inception-v3-compat skipped: no local weights; set GANZOO_FEATURE_WEIGHTS or pass --inception)")


if __name__ == "__main__":
    main()
