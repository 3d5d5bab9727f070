"""Bench results: one row per run, one aggregated row per variant (mean ± std over seeds),
ranking by the suite's primary metric, and the ``results.json`` / ``results.csv`` files."""

from __future__ import annotations

import csv
import io
import json
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.bench.suite import RunSpec, Suite, metric_info
from ganzoo.bench.worker import read_record

EXTRA_STATS = ("wall_time", "img_per_s")
"""Per-run numbers aggregated beside the metrics: training wall time (s) and median img/s."""


@dataclass
class Stat:
    """Mean, sample standard deviation (None below 2 values), min, max over the finite values."""

    values: list[float]
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None

    @classmethod
    def of(cls, values: Sequence[float | None]) -> "Stat":
        xs = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        return cls(xs, statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else None, min(xs), max(xs)) if xs else cls(xs)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "min": self.min, "max": self.max, "n": len(self.values), "values": self.values}


@dataclass
class VariantResult:
    name: str
    dataset: str
    arch: str
    loss: str
    mitigations: tuple[str, ...]
    components: str
    metrics: tuple[str, ...]
    runs: list[dict[str, Any]]
    stats: dict[str, Stat] = field(default_factory=dict)
    rank: int | None = None

    @property
    def label(self) -> str:
        """The name without a leading ``<dataset>-`` (tables are grouped by dataset already)."""
        prefix = f"{self.dataset}-"
        return self.name[len(prefix):] if self.name.startswith(prefix) and len(self.name) > len(prefix) else self.name

    def count(self, status: str) -> int:
        return sum(r["status"] == status for r in self.runs)

    @property
    def completed(self) -> int:
        return self.count("completed")

    def to_dict(self) -> dict[str, Any]:
        return {
            "variant": self.name, "dataset": self.dataset, "arch": self.arch, "loss": self.loss,
            "mitigations": list(self.mitigations), "components": self.components, "rank": self.rank,
            "runs": len(self.runs), "completed": self.completed, "failed": self.count("failed"),
            "metrics": {m: self.stats[m].to_dict() for m in self.metrics},
            **{k: self.stats[k].to_dict() for k in EXTRA_STATS},
        }


@dataclass
class BenchResults:
    suite: Suite
    protocol: dict[str, Any]
    variants: list[VariantResult]
    wall_time: float | None = None

    @property
    def runs(self) -> list[dict[str, Any]]:
        return [r for v in self.variants for r in v.runs]

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["status"] == "failed"]

    def by_dataset(self) -> dict[str, list[VariantResult]]:
        """Variants grouped by dataset, each group in rank order."""
        groups: dict[str, list[VariantResult]] = {}
        for v in self.variants:
            groups.setdefault(v.dataset, []).append(v)
        return {d: sorted(vs, key=lambda v: (v.rank is None, v.rank or 0)) for d, vs in groups.items()}

    def metrics_of(self, dataset: str) -> list[str]:
        """The metrics of a dataset's variants, the primary one first."""
        names = list(dict.fromkeys(m for v in self.variants if v.dataset == dataset for m in v.metrics))
        p = self.suite.primary_metric
        return ([p] if p in names else []) + [m for m in names if m != p]


def _run_row(spec: RunSpec, suite: Suite, out: Path) -> dict[str, Any]:
    v = suite.variant(spec.variant)
    rec = read_record(spec.run_dir)
    if rec.get("fingerprint") != spec.fingerprint:
        rec = {}
    status = rec.get("status", "missing")
    if status == "running":
        status = "interrupted"
    metrics = rec.get("metrics", {}) if status == "completed" else {}
    try:
        rel = str(spec.run_dir.relative_to(out))
    except ValueError:
        rel = str(spec.run_dir)
    return {
        "variant": spec.variant, "dataset": v.dataset, "arch": v.arch, "loss": v.loss,
        "mitigations": list(v.mitigations), "seed": spec.seed, "status": status, "steps": spec.steps,
        "step": rec.get("step"), "metrics": {m: metrics.get(m) for m in spec.metrics},
        "wall_time": rec.get("wall_time"), "img_per_s": rec.get("img_per_s"), "seconds": rec.get("seconds"),
        "error": rec.get("error"), "error_type": rec.get("error_type"), "attempts": rec.get("attempts"),
        "run_dir": rel, "eval": rec.get("eval", {}),
    }


def _sort_key(v: VariantResult, order: Sequence[tuple[str, str]]) -> tuple:
    """Best first by each (metric, direction) in turn; variants without a value last."""
    key: list[Any] = []
    for m, direction in order:
        s = v.stats.get(m)
        key.append((1, 0.0) if s is None or s.mean is None else (0, -s.mean if direction == "max" else s.mean))
    return tuple(key)


def collect(suite: Suite, specs: Sequence[RunSpec], out: Path, protocol: Mapping[str, Any]) -> BenchResults:
    """Read every run's record and aggregate per variant; rank within each dataset."""
    rows: dict[str, list[dict[str, Any]]] = {v.name: [] for v in suite.variants}
    for spec in specs:
        rows[spec.variant].append(_run_row(spec, suite, out))
    variants = []
    for v in suite.variants:
        vr = VariantResult(v.name, v.dataset, v.arch, v.loss, v.mitigations, v.components, v.metrics, rows[v.name])
        done = [r for r in vr.runs if r["status"] == "completed"]
        for m in v.metrics:
            vr.stats[m] = Stat.of([r["metrics"].get(m) for r in done])
        for k in EXTRA_STATS:
            vr.stats[k] = Stat.of([r[k] for r in done])
        variants.append(vr)
    results = BenchResults(suite, dict(protocol), variants)
    primary = suite.primary_metric
    for dataset, group in results.by_dataset().items():
        order = [(primary, suite.primary_direction)]
        order += [(m, metric_info(m).direction) for m in results.metrics_of(dataset) if m != primary]
        group.sort(key=lambda v: _sort_key(v, order))
        for i, v in enumerate(group):
            v.rank = i + 1 if v.stats.get(primary) and v.stats[primary].mean is not None else None
    return results


# ----------------------------------------------------------------------------- files


def results_dict(res: BenchResults) -> dict[str, Any]:
    s = res.suite
    return {
        "suite": {"name": s.name, "description": s.description, "source": s.source,
                  "primary_metric": s.primary_metric, "primary_direction": s.primary_direction},
        "protocol": res.protocol,
        "wall_time": res.wall_time,
        "runs": res.runs,
        "variants": [v.to_dict() for v in res.variants],
        "published": [
            {"model": p.model, "dataset": p.dataset, "source": p.source, "variant": p.variant, "values": dict(p.values),
             "errors": dict(p.errors), "error_kind": p.error_kind, "protocol": p.protocol, "note": p.note}
            for p in s.published
        ],
        "failures": [{k: r[k] for k in ("variant", "seed", "error", "error_type", "run_dir")} for r in res.failures],
    }


def csv_text(res: BenchResults) -> str:
    """One ``run`` row per run and one ``mean`` row per variant (``*_std`` columns: std over seeds)."""
    metrics = list(dict.fromkeys(m for v in res.variants for m in v.metrics))
    cols = ["row", "variant", "dataset", "arch", "loss", "mitigations", "seed", "status", "steps", "n"]
    for m in [*metrics, *EXTRA_STATS]:
        cols += [m, f"{m}_std"]
    cols += ["rank", "error", "run_dir"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()
    for v in res.variants:
        base = {"variant": v.name, "dataset": v.dataset, "arch": v.arch, "loss": v.loss, "mitigations": "+".join(v.mitigations)}
        for r in v.runs:
            row = {**base, "row": "run", "seed": r["seed"], "status": r["status"], "steps": r["steps"],
                   "error": r["error"] or "", "run_dir": r["run_dir"]}
            for m in metrics:
                row[m] = _num(r["metrics"].get(m))
            for k in EXTRA_STATS:
                row[k] = _num(r[k])
            w.writerow(row)
        row = {**base, "row": "mean", "status": f"{v.completed}/{len(v.runs)} completed", "steps": v.runs[0]["steps"] if v.runs else "",
               "rank": v.rank or ""}
        row["n"] = v.completed
        for m in [*v.metrics, *EXTRA_STATS]:
            s = v.stats[m]
            row[m], row[f"{m}_std"] = _num(s.mean), _num(s.std)
        w.writerow(row)
    return buf.getvalue()


def _num(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.6g}"
    return str(v)


def write_results(res: BenchResults, out: Path) -> tuple[Path, Path]:
    from ganzoo.files import write_text

    jpath, cpath = Path(out) / "results.json", Path(out) / "results.csv"
    write_text(jpath, json.dumps(results_dict(res), indent=2, default=str) + "\n")
    write_text(cpath, csv_text(res))
    return jpath, cpath
