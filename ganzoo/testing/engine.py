"""A few real engine steps (through :func:`ganzoo.engine.api.start_run`) in a temporary run directory."""

from __future__ import annotations

import contextlib
import json
import math
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from ganzoo.testing.report import ConformanceError, describe_exception

FAST_TRAIN = {
    "tensorboard": False,
    "sample_every": 0,
    "checkpoint_every": 0,
    "log_every": 1,
    "num_workers": 0,
    "ema": False,
}


def run_tree(
    *, dataset: str, arch: str, loss: str, mitigations: Sequence[str] = (), steps: int = 2, batch_size: int = 8,
    options: Mapping[str, Any] | None = None, device: str = "cpu", seed: int = 0,
) -> dict[str, Any]:
    """A user config tree for a short, quiet run (``options``: ``{"arch": {...}, "mitigation": {name: {...}}}``)."""
    options = dict(options or {})
    tree: dict[str, Any] = {
        "run": {"dataset": dataset, "arch": arch, "loss": loss, "mitigations": list(mitigations),
                "steps": steps, "batch_size": batch_size, "device": device, "seed": seed},
        "train": {**FAST_TRAIN, **dict(options.pop("train", {}))},
    }
    for section, values in options.items():
        if values:
            tree[section] = dict(values)
    return tree


def describe_run(tree: Mapping[str, Any]) -> str:
    r = tree["run"]
    parts = [f"dataset {r['dataset']!r}", f"arch {r['arch']!r}", f"loss {r['loss']!r}"]
    if r.get("mitigations"):
        parts.append("mitigations " + ", ".join(repr(m) for m in r["mitigations"]))
    return f"{r['steps']}-step run ({', '.join(parts)}, batch {r['batch_size']})"


@contextlib.contextmanager
def short_run(tree: Mapping[str, Any], host: Any) -> Iterator[Path]:
    """Train ``tree`` in a temporary directory; yield the finished run directory.

    Raises :class:`ConformanceError` naming the run when training fails or leaves a bad run directory."""
    from ganzoo.engine.api import start_run

    with tempfile.TemporaryDirectory(prefix="ganzoo-testing-") as tmp:
        run_dir = Path(tmp) / "run"
        try:
            result = start_run(dict(tree), run_dir, quiet=True, host=host)
        except Exception as exc:  # noqa: BLE001 - the message says which run failed and why
            raise ConformanceError(f"a {describe_run(tree)} failed: {describe_exception(exc)}") from exc
        steps = int(tree["run"]["steps"])
        if result.status != "completed" or result.step != steps:
            raise ConformanceError(f"a {describe_run(tree)} ended with status {result.status!r} at step {result.step}")
        check_run_dir(run_dir, steps, tree)
        yield run_dir


def check_run_dir(run_dir: Path, steps: int, tree: Mapping[str, Any]) -> None:
    """The checkpoint exists and every logged loss is finite."""
    if not (run_dir / "checkpoints" / f"step-{steps:08d}.pt").is_file():
        raise ConformanceError(f"a {describe_run(tree)} wrote no checkpoint for step {steps}")
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines() if line.strip()]
    for row in rows:
        for key in ("loss_d", "loss_g", "penalty"):
            if key in row and not math.isfinite(float(row[key])):
                raise ConformanceError(f"a {describe_run(tree)} logged {key} = {row[key]} at step {row.get('step')}")
