"""Held-out accuracy and training time of ganzoo's domain classifiers (``ganzoo.metrics.classifier``).

Trains (ignoring any cache) the classifier of ``shapes`` and of MNIST digits (from ``--mnist-root``,
split test by default), prints held-out accuracy and training time, and checks the mode metrics of
real data (which should find every mode with a KL near 0): 10,000 fresh shapes (another seed) and
26,000 stacked-mnist images composed from the same MNIST split (so mostly digits the classifier was
trained on). Acceptance: MNIST >= 97%, shapes >= 99%. Wall times depend on the machine's load: the
table also gives CPU seconds and the 1-minute load average.

    python benchmarks/classifier_accuracy.py [--mnist-root DIR] [--mnist-split test] [--json]
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

from ganzoo.errors import GanzooError
from ganzoo.metrics.classifier import get_classifier
from ganzoo.metrics.modes import mode_metrics
from ganzoo.plugins import get_host

REPO = Path(__file__).resolve().parents[1]
TARGETS = {"shapes": 0.99, "mnist": 0.97}


def _real_samples(dataset: str, options: dict[str, Any], data_root: Path | None, n: int, seed: int) -> Any:
    data = get_host().datasets.get(dataset).with_options(options).build(data_root=data_root, seed=seed)
    if data.tensors is not None:
        x = data.tensors[0][:n]
    else:
        x = torch.stack([data.dataset[i][0] for i in range(min(n, len(data)))])
    return data.info, x


def run_one(dataset: str, options: dict[str, Any], data_root: Path | None, cache_dir: Path,
            check: tuple[str, dict[str, Any], int] | None) -> dict[str, Any]:
    t0, c0 = time.perf_counter(), time.process_time()
    clf = get_classifier(dataset, data_root=data_root, dataset_options=options, cache_dir=cache_dir,
                         retrain=True, quiet=False)
    seconds, cpu_seconds = time.perf_counter() - t0, time.process_time() - c0
    row: dict[str, Any] = {
        "dataset": dataset,
        "options": clf.meta["options"],
        "accuracy": clf.accuracy,
        "target": TARGETS.get(dataset),
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "load_average": round(os.getloadavg()[0], 2) if hasattr(os, "getloadavg") else None,
        "num_train": clf.meta["num_train"],
        "num_holdout": clf.meta["num_holdout"],
        "epochs": clf.meta["epochs"],
        "resolution": clf.resolution,
    }
    if check is not None:  # mode metrics of real data through the dispatcher
        name, opts, n = check
        # a different build seed: for shapes these images were never seen in training
        info, x = _real_samples(name, opts, data_root, n, seed=12345)
        getter = lambda _name: get_classifier(_name, data_root=data_root, dataset_options=opts,  # noqa: E731
                                              cache_dir=cache_dir)
        m = mode_metrics(x, info, classifier_getter=getter)
        row["real_data_modes"] = {"dataset": name, "samples": m["num_samples"], "modes": m["modes"],
                                  "num_modes": m["num_modes"], "reverse_kl": round(m["reverse_kl"], 4)}
    return row


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist-root", type=Path, default=REPO.parent / "shared" / "data" / "mnist-t10k")
    parser.add_argument("--mnist-split", default="test", choices=("train", "test"))
    parser.add_argument("--cache-dir", type=Path, default=None, help="where to write the classifiers (default: temp)")
    parser.add_argument("--skip-mnist", action="store_true")
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    args = parser.parse_args(argv)

    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="ganzoo-classifiers-"))
    rows: list[dict[str, Any]] = []
    rows.append(run_one("shapes", {}, None, cache_dir, ("shapes", {}, 10_000)))
    if not args.skip_mnist:
        mnist_opts = {"split": args.mnist_split}
        try:
            rows.append(run_one("mnist", mnist_opts, args.mnist_root, cache_dir,
                                ("stacked-mnist", {**mnist_opts, "size": 26_000}, 26_000)))
        except GanzooError as exc:
            print(f"mnist skipped: {exc}", file=sys.stderr)
    env = {"torch": torch.__version__, "threads": torch.get_num_threads(), "cpu": platform.processor() or platform.machine()}
    ok = all(r["target"] is None or r["accuracy"] >= r["target"] for r in rows)
    if args.json:
        print(json.dumps({"rows": rows, "env": env, "ok": ok}, indent=2))
    else:
        print(f"\ndomain classifier accuracy (held-out 15%), torch {env['torch']}, {env['threads']} CPU threads")
        print(f"{'dataset':<8} {'options':<28} {'accuracy':>9} {'target':>7} {'train s':>8} {'cpu s':>7} {'load':>5} "
              f"{'train/holdout':>14} {'epochs':>6}  real-data modes")
        for r in rows:
            real = r.get("real_data_modes")
            real_s = (f"{real['dataset']}: {real['modes']}/{real['num_modes']} modes, KL {real['reverse_kl']:.4f} "
                      f"({real['samples']} samples)") if real else ""
            opts = ",".join(f"{k}={v}" for k, v in r["options"].items())
            print(f"{r['dataset']:<8} {opts:<28} {100 * r['accuracy']:>8.2f}% {100 * (r['target'] or 0):>6.0f}% "
                  f"{r['train_seconds']:>8.1f} {r['train_cpu_seconds']:>7.1f} {r['load_average'] or 0:>5.1f} "
                  f"{r['num_train']:>7}/{r['num_holdout']:<6} {r['epochs']:>6}  {real_s}")
        print("all targets met" if ok else "TARGET MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
