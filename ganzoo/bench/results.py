"""Bench results: one row per run, one aggregated row per variant (mean ± std and the Student-t 95 %
confidence interval over seeds), ranking by the suite's primary metric, whether the best variant is
distinguishable from the runner-up (Welch's t-test), the reference rows (real data, chance) and the
``results.json`` / ``results.csv`` files."""

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

from ganzoo.bench import stats
from ganzoo.bench.references import EVAL_SEED, ReferenceJob, ReferenceRow, reference_rows
from ganzoo.bench.suite import RunSpec, Suite, metric_info
from ganzoo.bench.worker import read_record, recorded_train_stats

EXTRA_STATS = ("wall_time", "img_per_s")
"""Per-run numbers aggregated beside the metrics: training wall time (s) and median img/s."""


@dataclass
class Stat:
    """Mean, sample standard deviation, the Student-t 95 % confidence interval of the mean (both None
    below 2 values), min, max over the finite values."""

    values: list[float]
    mean: float | None = None
    std: float | None = None
    min: float | None = None
    max: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None

    @classmethod
    def of(cls, values: Sequence[float | None]) -> Stat:
        xs = [float(v) for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
        if not xs:
            return cls(xs)
        ci = stats.mean_ci(xs)
        return cls(xs, statistics.fmean(xs), statistics.stdev(xs) if len(xs) > 1 else None, min(xs), max(xs),
                   *(ci if ci else (None, None)))

    @property
    def n(self) -> int:
        return len(self.values)

    def to_dict(self) -> dict[str, Any]:
        return {"mean": self.mean, "std": self.std, "ci95": [self.ci_low, self.ci_high] if self.ci_low is not None else None,
                "min": self.min, "max": self.max, "n": len(self.values), "values": self.values}


@dataclass
class Comparison:
    """The best variant of a dataset (by mean) against the runner-up on one metric."""

    dataset: str
    metric: str
    best: str
    runner_up: str | None
    p: float | None  # Welch's t-test; None: not testable (fewer than two seeds on a side, or one variant)

    @property
    def significant(self) -> bool:
        return stats.distinguishable(self.p)

    def to_dict(self) -> dict[str, Any]:
        return {"dataset": self.dataset, "metric": self.metric, "best": self.best, "runner_up": self.runner_up,
                "p": self.p, "distinguishable": self.significant, "test": stats.TEST_METHOD}


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
    wall_time: float | None = None  # this invocation of the bench
    references: dict[str, list[ReferenceRow]] = field(default_factory=dict)

    @property
    def runs_wall_time(self) -> float:
        """Training wall time summed over the runs, as recorded in their run directories (kept on reruns)."""
        return sum(r["wall_time"] or 0.0 for r in self.runs)

    @property
    def run_time(self) -> float:
        """Training plus evaluation time summed over the runs, as recorded (kept on reruns)."""
        return self.runs_wall_time + sum((r.get("eval") or {}).get("seconds") or 0.0 for r in self.runs)

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

    def ranked(self, dataset: str) -> list[VariantResult]:
        return [v for v in self.by_dataset().get(dataset, []) if v.rank is not None]

    def compare(self, dataset: str, metric: str | None = None) -> Comparison | None:
        """The best variant of ``dataset`` on ``metric`` (default: the primary one) by mean, against the runner-up."""
        metric = metric or self.suite.primary_metric
        sign = 1 if (self.suite.primary_direction if metric == self.suite.primary_metric else metric_info(metric).direction) == "max" else -1
        have = [v for v in self.by_dataset().get(dataset, []) if v.stats.get(metric) and v.stats[metric].mean is not None]
        if not have:
            return None
        have.sort(key=lambda v: -sign * v.stats[metric].mean)
        if metric == self.suite.primary_metric:  # the rank order (ties broken by the next metrics)
            have.sort(key=lambda v: (v.rank is None, v.rank or 0))
        best = have[0]
        if len(have) == 1:
            return Comparison(dataset, metric, best.name, None, None)
        second = have[1]
        return Comparison(dataset, metric, best.name, second.name, stats.welch_p(best.stats[metric].values, second.stats[metric].values))

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
    recorded = recorded_train_stats(spec.run_dir) if rec else {}
    try:
        rel = str(spec.run_dir.relative_to(out))
    except ValueError:
        rel = str(spec.run_dir)
    return {
        "variant": spec.variant, "dataset": v.dataset, "arch": v.arch, "loss": v.loss,
        "mitigations": list(v.mitigations), "seed": spec.seed, "status": status, "steps": spec.steps,
        "step": rec.get("step"), "metrics": {m: metrics.get(m) for m in spec.metrics},
        "wall_time": recorded.get("wall_time", rec.get("wall_time")), "img_per_s": recorded.get("img_per_s", rec.get("img_per_s")), "seconds": rec.get("seconds"),
        "error": rec.get("error"), "error_type": rec.get("error_type"), "attempts": rec.get("attempts"),
        "run_dir": rel, "eval": rec.get("eval", {}), "eval_seed": _eval_seed(rec),
    }


def _eval_seed(rec: Mapping[str, Any]) -> int:
    """The evaluation seed a run's record names (``eval_seed``, or ``seed`` in its evaluation details), else the default."""
    for v in (rec.get("eval_seed"), (rec.get("eval") or {}).get("seed")):
        if isinstance(v, int) and not isinstance(v, bool):
            return v
    return EVAL_SEED


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
    add_references(results, out, compute=False)
    return results


def reference_jobs(res: BenchResults, out: Path, device: str = "cpu") -> dict[str, ReferenceJob]:
    """Per dataset: its metrics, sample count and evaluation seed, and a completed run whose config builds
    the data (and the architecture, for an untrained generator)."""
    jobs = {}
    for dataset, group in res.by_dataset().items():
        done = [(v, r) for v in group for r in v.runs if r["status"] == "completed"]
        if not done:
            continue
        v, r = done[0]
        metrics = tuple(dict.fromkeys(m for vv in group for m in vv.metrics))
        jobs[dataset] = ReferenceJob(dataset, Path(out) / r["run_dir"], metrics, res.suite.variant(v.name).eval_samples,
                                     int(r.get("eval_seed", EVAL_SEED)), device)
    return jobs


def add_references(res: BenchResults, out: Path, *, compute: bool = True) -> None:
    """Fill ``res.references`` from the cache in ``out`` (computing what is missing when ``compute``)."""
    device = "cuda" if res.protocol.get("device") == "cuda" else "cpu"
    res.references = reference_rows(reference_jobs(res, out, device), out, compute=compute)


# ----------------------------------------------------------------------------- files


def results_dict(res: BenchResults) -> dict[str, Any]:
    s = res.suite
    return {
        "suite": {"name": s.name, "description": s.description, "source": s.source,
                  "primary_metric": s.primary_metric, "primary_direction": s.primary_direction},
        "protocol": res.protocol,
        "wall_time": res.wall_time,
        "runs_wall_time": res.runs_wall_time,
        "run_time": res.run_time,
        "confidence": {"interval": stats.CI_METHOD, "test": stats.TEST_METHOD, "single_seed": "n = 1, no interval"},
        "runs": res.runs,
        "variants": [v.to_dict() for v in res.variants],
        "comparisons": [c.to_dict() for d in res.by_dataset() if (c := res.compare(d))],
        "references": {d: [r.to_dict() for r in rows] for d, rows in res.references.items()},
        "published": [
            {"model": p.model, "dataset": p.dataset, "source": p.source, "variant": p.variant, "values": dict(p.values),
             "errors": dict(p.errors), "error_kind": p.error_kind, "protocol": p.protocol, "note": p.note}
            for p in s.published
        ],
        "failures": [{k: r[k] for k in ("variant", "seed", "error", "error_type", "run_dir")} for r in res.failures],
    }


def csv_text(res: BenchResults) -> str:
    """One ``run`` row per run, one ``mean`` row per variant (``*_std``: std over seeds; ``*_ci_low`` and
    ``*_ci_high``: the Student-t 95 % confidence interval of the mean) and one ``reference`` row per
    reference (variant ``real data`` or ``chance``)."""
    metrics = list(dict.fromkeys(m for v in res.variants for m in v.metrics))
    cols = ["row", "variant", "dataset", "arch", "loss", "mitigations", "seed", "status", "steps", "n"]
    for m in [*metrics, *EXTRA_STATS]:
        cols += [m, f"{m}_std", f"{m}_ci_low", f"{m}_ci_high"]
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
            row[f"{m}_ci_low"], row[f"{m}_ci_high"] = _num(s.ci_low), _num(s.ci_high)
        w.writerow(row)
    for dataset, refs in res.references.items():
        for ref in refs:
            w.writerow({"row": "reference", "variant": ref.label, "dataset": dataset, "status": ref.description,
                        "error": ref.error or "", **{m: _num(x) for m, x in ref.metrics.items() if m in metrics}})
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
