"""A class-conditional ``resnet`` against an unconditional one of the same size on real MNIST digits.

Trains, briefly and on the CPU, a conditional ``resnet`` (conditional BatchNorm in G, projection
discriminator) and the same network with ``arch.conditional=false`` on the MNIST test split (10,000
digits, read in place from ``--data-root``; nothing is copied), then reports:

* the conditional model: the ``cas`` metric (GAN-test, Shmelkov et al. 2018): the MNIST domain
  classifier's accuracy on samples of each requested class, overall and per class;
* the unconditional model: the classifier's histogram of its samples' classes (it cannot be asked for
  a class; the histogram shows which digits it draws).

Both are measured with ganzoo's MNIST domain classifier (trained once on the same split and cached);
its held-out accuracy is printed beside ``cas`` as the ceiling. Numbers after a few hundred steps are a
smoke-level comparison, not converged results.

    python benchmarks/conditional_mnist.py --data-root ../shared/data/mnist-t10k [--steps 300] [--width 32]
        [--batch-size 32] [--mitigations acgan] [--num-samples 1000] [--out DIR] [--reuse] [--train-only conditional|unconditional] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from ganzoo.engine.api import start_run
from ganzoo.files import write_text
from ganzoo.metrics.classifier import get_classifier
from ganzoo.metrics.evaluate import evaluate
from ganzoo.metrics.sources import source_from_run

DATASET_OPTS = {"split": "test"}
TIMING_FILE = "conditional_mnist_timing.json"
MODELS = (("conditional", True), ("unconditional", False))


def train(run_dir: Path, *, conditional: bool, args: argparse.Namespace) -> dict[str, Any]:
    user = {
        "run": {"dataset": "mnist", "arch": "resnet", "loss": args.loss, "steps": args.steps, "batch_size": args.batch_size,
                "device": "cpu", "seed": args.seed, "data_root": str(args.data_root),
                "mitigations": list(args.mitigations if conditional else ())},
        "dataset": dict(DATASET_OPTS),
        "arch": {"width": args.width, "conditional": conditional, "latent_dim": args.latent_dim},
        "train": {"tensorboard": False, "log_every": max(1, args.steps // 10), "sample_every": 0,
                  "checkpoint_every": 0, "num_workers": 0},
    }
    start = time.perf_counter()
    cpu0 = time.process_time()
    result = start_run(user, run_dir, quiet=True)
    if result.status != "completed":
        raise SystemExit(f"training {'conditional' if conditional else 'unconditional'} resnet: {result.status}")
    timing = {"seconds": round(time.perf_counter() - start, 1), "cpu_seconds": round(time.process_time() - cpu0, 1),
              "steps": result.step}
    write_text(run_dir / TIMING_FILE, json.dumps(timing) + "\n")
    return timing


def finished(run_dir: Path, steps: int) -> dict[str, Any] | None:
    """The timing of a completed run of ``steps`` steps in ``run_dir`` (None: not there or not finished)."""
    try:
        status = json.loads((run_dir / "status.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if status.get("status") != "completed" or status.get("step") != steps:
        return None
    try:
        return dict(json.loads((run_dir / TIMING_FILE).read_text(encoding="utf-8")))
    except (OSError, ValueError):  # trained by an older version of this script: the engine's wall time only
        return {"seconds": round(float(status.get("wall_time", 0.0)), 1), "cpu_seconds": None, "steps": steps}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", type=Path, required=True, help="folder with t10k-images/labels-idx*-ubyte(.gz)")
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--width", type=int, default=32)
    p.add_argument("--latent-dim", type=int, default=64)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--loss", default="hinge")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--mitigations", type=lambda t: [m for m in t.split(",") if m], default=[],
                   help="comma-separated mitigations for the conditional model only, e.g. acgan")
    p.add_argument("--num-samples", type=int, default=1000, help="generated samples per model (cas: split over the classes)")
    p.add_argument("--out", type=Path, default=None, help="where the two runs go (default: a temporary folder)")
    p.add_argument("--reuse", action="store_true",
                   help="keep completed runs of the same step count already in --out instead of training them again")
    p.add_argument("--train-only", choices=[m for m, _ in MODELS], default=None,
                   help="train just this model into --out and stop (e.g. both at once in two processes, then --reuse)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    args.data_root = args.data_root.expanduser().resolve()
    torch.set_num_threads(max(1, min(torch.get_num_threads(), os.cpu_count() or 1)))

    out = args.out or Path(tempfile.mkdtemp(prefix="ganzoo-cond-mnist-"))
    timings = {}
    for name, cond in MODELS:
        if args.train_only and name != args.train_only:
            continue
        done = finished(out / name, args.steps) if args.reuse else None
        if done is not None:
            print(f"[bench] reusing the trained {name} resnet in {out / name}", file=sys.stderr, flush=True)
            timings[name] = done
            continue
        print(f"[bench] training the {name} resnet (width {args.width}, {args.steps} steps) ...", file=sys.stderr, flush=True)
        timings[name] = train(out / name, conditional=cond, args=args)
    if args.train_only:
        return 0

    clf = get_classifier("mnist", data_root=args.data_root, dataset_options=DATASET_OPTS)
    cond_source = source_from_run(out / "conditional")
    report = evaluate(cond_source, ["cas"], num_samples=args.num_samples, data_root=args.data_root)
    cas = report.find("cas")
    assert cas is not None
    per_class = [cas.protocol[f"cas_class_{k}"] for k in range(10)]

    uncond = source_from_run(out / "unconditional")
    x = uncond.sample(args.num_samples, seed=0, batch_size=256)
    pred = clf.predict(x).cpu()
    hist = torch.bincount(pred, minlength=10).tolist()

    result = {
        "device": platform.processor() or platform.machine(), "cpu_count": os.cpu_count(),
        "load_1min": round(os.getloadavg()[0], 2), "torch": torch.__version__,
        "steps": args.steps, "width": args.width, "latent_dim": args.latent_dim, "batch_size": args.batch_size,
        "loss": args.loss, "conditional_mitigations": args.mitigations, "num_samples": args.num_samples, "train": timings,
        "classifier_accuracy": clf.accuracy, "cas": cas.value, "cas_per_class": per_class,
        "unconditional_histogram": hist, "runs": str(out),
    }
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"classifier (mnist test split) held-out accuracy: {clf.accuracy:.3f}")
    for name, t in timings.items():
        cpu = f"{t['cpu_seconds']} s CPU" if t.get("cpu_seconds") is not None else "CPU time not recorded"
        print(f"{name}: {t['steps']} steps in {t['seconds']} s wall ({cpu})")
    print("\n| digit | " + " | ".join(str(k) for k in range(10)) + " | all |")
    print("|---|" + "---|" * 11)
    print("| conditional: cas (%) | " + " | ".join(f"{100 * a:.0f}" for a in per_class) + f" | {100 * cas.value:.1f} |")
    print("| unconditional: share of samples (%) | " + " | ".join(f"{100 * h / max(1, sum(hist)):.0f}" for h in hist)
          + f" | {sum(hist)} samples |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
