"""Bench results: the runs' records aggregated per variant (mean, std, Student-t 95 % interval of the mean), ranked
within each dataset and compared by Welch's t-test, with the reference rows; ``results.json`` and ``results.csv``."""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ganzoo.bench.suite import RunSpec, Suite
from ganzoo.bench.worker import read_record
from ganzoo.files import read_json_object, write_text
from ganzoo.metrics.catalogue import value_info
from ganzoo.metrics.real_and_chance import ReferenceRow, score_references
from ganzoo.rundir import read_run_config, train_stats
from ganzoo.stats import CI_METHOD, CONFIDENCE, TEST_METHOD, Stat, welch_p

EXTRA_STATS = ("wall_time", "img_per_s")  # aggregated beside the metrics: training wall time (s), median img/s
LEGACY_EVAL_SEED = 12345  # the evaluation seed of a run whose record names none (older releases)
REFERENCE_FILE = "references.json"  # the reference rows of each dataset, keyed by what they depend on


class _Tested:
    p: float | None  # Welch's t-test; None: not testable (fewer than two seeds on a side, or one variant)

    @property
    def significant(self) -> bool:
        return self.p is not None and self.p < 1 - CONFIDENCE

    def to_dict(self) -> dict[str, Any]:
        return {**vars(self), "distinguishable": self.significant, "test": TEST_METHOD}


@dataclass
class Comparison(_Tested):
    """The best variant of a dataset (by mean) against the runner-up on one metric."""

    dataset: str
    metric: str
    best: str
    runner_up: str | None
    p: float | None


@dataclass
class BaselineComparison(_Tested):
    """A variant against its dataset's baseline variant on one metric: difference of means and Welch's test."""

    dataset: str
    metric: str
    variant: str
    baseline: str
    difference: float
    p: float | None


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
        return self.name.removeprefix(f"{self.dataset}-") or self.name

    @property
    def completed(self) -> int:
        return sum(r["status"] == "completed" for r in self.runs)

    def mean(self, metric: str) -> float | None:
        return s.mean if (s := self.stats.get(metric)) else None

    def to_dict(self) -> dict[str, Any]:
        return {"variant": self.name, "dataset": self.dataset, "arch": self.arch, "loss": self.loss,
                "mitigations": list(self.mitigations), "components": self.components, "rank": self.rank,
                "runs": len(self.runs), "completed": self.completed, "failed": sum(r["status"] == "failed" for r in self.runs),
                "metrics": {m: self.stats[m].to_dict() for m in self.metrics},
                **{k: self.stats[k].to_dict() for k in EXTRA_STATS}}


@dataclass
class BenchResults:
    suite: Suite
    protocol: dict[str, Any]
    variants: list[VariantResult]
    wall_time: float | None = None  # this invocation of the bench
    references: dict[str, list[ReferenceRow]] = field(default_factory=dict)

    @property
    def runs(self) -> list[dict[str, Any]]:
        return [r for v in self.variants for r in v.runs]

    @property
    def runs_wall_time(self) -> float:
        """Training wall time summed over the runs, as recorded in their run directories (kept on reruns)."""
        return sum(r["wall_time"] or 0.0 for r in self.runs)

    @property
    def run_time(self) -> float:
        """Training plus evaluation time summed over the runs, as recorded (kept on reruns)."""
        return self.runs_wall_time + sum((r.get("eval") or {}).get("seconds") or 0.0 for r in self.runs)

    @property
    def failures(self) -> list[dict[str, Any]]:
        return [r for r in self.runs if r["status"] == "failed"]

    def by_dataset(self) -> dict[str, list[VariantResult]]:
        """Variants grouped by dataset, each group in rank order."""
        groups: dict[str, list[VariantResult]] = {}
        for v in self.variants:
            groups.setdefault(v.dataset, []).append(v)
        return {d: sorted(vs, key=lambda v: (v.rank is None, v.rank or 0)) for d, vs in groups.items()}

    def direction(self, metric: str) -> str:
        return self.suite.primary_direction if metric == self.suite.primary_metric else value_info(metric).direction

    def compare(self, dataset: str, metric: str | None = None) -> Comparison | None:
        """The best variant of ``dataset`` on ``metric`` (default: the primary one) by mean, against the runner-up
        (a stable sort: on the primary metric, ties keep the rank order)."""
        metric = metric or self.suite.primary_metric
        sign = -1 if self.direction(metric) == "max" else 1
        have = sorted((v for v in self.by_dataset().get(dataset, []) if v.mean(metric) is not None),
                      key=lambda v: sign * (v.mean(metric) or 0.0))
        if not have:
            return None
        if len(have) == 1:
            return Comparison(dataset, metric, have[0].name, None, None)
        p = welch_p(have[0].stats[metric].values, have[1].stats[metric].values)
        return Comparison(dataset, metric, have[0].name, have[1].name, p)

    def against_baseline(self, dataset: str, metric: str | None = None) -> list[BaselineComparison]:
        """Every other variant of ``dataset`` against the suite's baseline variant of it (none without one)."""
        metric = metric or self.suite.primary_metric
        group = self.by_dataset().get(dataset, [])
        base = next((v for v in group if self.suite.variant(v.name).baseline), None)
        if base is None or (base_mean := base.mean(metric)) is None:
            return []
        return [BaselineComparison(dataset, metric, v.name, base.name, x - base_mean,
                                   welch_p(v.stats[metric].values, base.stats[metric].values))
                for v in group if v is not base and (x := v.mean(metric)) is not None]

    def metrics_of(self, dataset: str) -> list[str]:
        """The metrics of a dataset's variants, the primary one first."""
        names = list(dict.fromkeys(m for v in self.variants if v.dataset == dataset for m in v.metrics))
        return sorted(names, key=lambda m: m != self.suite.primary_metric)


def _run_row(spec: RunSpec, suite: Suite, out: Path) -> dict[str, Any]:
    v, rec = suite.variant(spec.variant), read_record(spec.run_dir)
    rec = rec if rec.get("fingerprint") == spec.fingerprint else {}
    status = "interrupted" if rec.get("status") == "running" else rec.get("status", "missing")
    metrics = rec.get("metrics", {}) if status == "completed" else {}
    recorded = {**rec, **train_stats(spec.run_dir)} if rec else {}
    eval_seed = next((s for s in (rec.get("eval_seed"), (rec.get("eval") or {}).get("seed")) if type(s) is int), LEGACY_EVAL_SEED)
    return {
        "variant": spec.variant, "dataset": v.dataset, "arch": v.arch, "loss": v.loss, "mitigations": list(v.mitigations or ()),
        "seed": spec.seed, "status": status, "steps": spec.steps, "step": rec.get("step"),
        "metrics": {m: metrics.get(m) for m in spec.metrics}, "wall_time": recorded.get("wall_time"),
        "img_per_s": recorded.get("img_per_s"), "seconds": rec.get("seconds"), "error": rec.get("error"),
        "error_type": rec.get("error_type"), "attempts": rec.get("attempts"),
        "run_dir": str(spec.run_dir.relative_to(out)) if spec.run_dir.is_relative_to(out) else str(spec.run_dir),
        "eval": rec.get("eval", {}), "eval_seed": eval_seed,
    }


def collect(suite: Suite, specs: Sequence[RunSpec], out: Path, protocol: Mapping[str, Any]) -> BenchResults:
    """Read every run's record and aggregate per variant; rank within each dataset."""
    res = BenchResults(suite, dict(protocol), [])
    for var in suite.variants:
        vr = VariantResult(var.name, var.dataset, var.arch, var.loss, tuple(var.mitigations or ()), var.components,
                           tuple(var.metrics or ()), [_run_row(s, suite, out) for s in specs if s.variant == var.name])
        done = [r for r in vr.runs if r["status"] == "completed"]
        # every metric of the suite, so a column this variant does not report is an empty cell (no value)
        vr.stats = {m: Stat.of([r["metrics"].get(m) for r in done]) for m in dict.fromkeys([*vr.metrics, *(suite.metrics or ())])}
        vr.stats |= {k: Stat.of([r[k] for r in done]) for k in EXTRA_STATS}
        res.variants.append(vr)
    for dataset, group in res.by_dataset().items():  # best first by each metric in turn, variants without a value last
        order = res.metrics_of(dataset)
        group.sort(key=lambda v: [(1, 0.0) if (x := v.mean(m)) is None else (0, -x if res.direction(m) == "max" else x)
                                  for m in order])
        for i, v in enumerate(group):
            v.rank = i + 1 if v.mean(suite.primary_metric) is not None else None
    add_references(res, out, compute=False)
    return res


def add_references(res: BenchResults, out: Path, *, compute: bool = True) -> None:
    """Fill ``res.references`` (real data and chance, scored like the runs by
    :func:`~ganzoo.metrics.real_and_chance.score_references`) from ``OUT/references.json``, computing and caching
    what is missing when ``compute``: per dataset, with its metrics, sample count and evaluation seed, on a completed
    run whose config builds the data (and the architecture)."""
    device, cache, changed = "cuda" if res.protocol.get("device") == "cuda" else "cpu", read_json_object(out / REFERENCE_FILE), False
    res.references = {}
    for dataset, group in res.by_dataset().items():
        if not (done := [(v, r) for v in group for r in v.runs if r["status"] == "completed"]):
            continue
        (v, r), metrics = done[0], tuple(dict.fromkeys(m for g in group for m in g.metrics))
        run_dir, n, seed = Path(out) / r["run_dir"], res.suite.variant(v.name).eval_samples, int(r["eval_seed"])
        with contextlib.suppress(Exception):  # e.g. an unreadable run config: this dataset gets no reference rows
            cfg = read_run_config(run_dir)
            what = {"dataset": dataset, "options": cfg.dataset, "data_root": cfg.run.get("data_root"), "arch": cfg.run["arch"],
                    "arch_options": cfg.arch, "metrics": sorted(metrics), "n": n, "seed": seed, "v": 3}
            key = hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]
            if (cache.get(key) or {}).get("dataset") == dataset:
                res.references[dataset] = [ReferenceRow(**row) for row in cache[key]["rows"]]
            elif compute:
                rows = res.references[dataset] = score_references(run_dir, metrics, num_samples=n, seed=seed, device=device)
                cache[key] = {"dataset": dataset, "rows": [asdict(row) for row in rows], "num_samples": n, "seed": seed,
                              "metrics": list(metrics)}
                changed = changed or not any(row.error for row in rows)
    if changed:
        write_text(out / REFERENCE_FILE, json.dumps(cache, indent=2) + "\n")


def results_dict(res: BenchResults) -> dict[str, Any]:
    s = res.suite
    return {
        "suite": {"name": s.name, "description": s.description, "source": s.source,
                  "primary_metric": s.primary_metric, "primary_direction": s.primary_direction},
        "protocol": res.protocol, "wall_time": res.wall_time, "runs_wall_time": res.runs_wall_time, "run_time": res.run_time,
        "confidence": {"interval": CI_METHOD, "test": TEST_METHOD, "single_seed": "n = 1, no interval"},
        "runs": res.runs,
        "variants": [v.to_dict() for v in res.variants],
        "comparisons": [c.to_dict() for d in res.by_dataset() if (c := res.compare(d))],
        "against_baseline": [c.to_dict() for d in res.by_dataset() for c in res.against_baseline(d)],
        "references": {d: [vars(r) for r in rows] for d, rows in res.references.items()},
        "published": [p.model_dump() for p in s.published],
        "failures": [{k: r[k] for k in ("variant", "seed", "error", "error_type", "run_dir")} for r in res.failures],
    }


def csv_text(res: BenchResults) -> str:
    """A ``run`` row per run, a ``mean`` row per variant (``*_std``: std over seeds; ``*_ci_low``, ``*_ci_high``: the
    95 % interval of the mean) and a ``reference`` row per reference (variant ``real data`` or ``chance``)."""
    metrics = list(dict.fromkeys(m for v in res.variants for m in v.metrics))
    suffixes = ("", "_std", "_ci_low", "_ci_high")
    cols = ["row", "variant", "dataset", "arch", "loss", "mitigations", "seed", "status", "steps", "n",
            *(m + s for m in [*metrics, *EXTRA_STATS] for s in suffixes), "rank", "error", "run_dir"]
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    w.writeheader()

    def num(v: Any) -> str:
        return "" if v is None else f"{v:.6g}" if isinstance(v, float) else str(v)

    for v in res.variants:
        base = {"variant": v.name, "dataset": v.dataset, "arch": v.arch, "loss": v.loss, "mitigations": "+".join(v.mitigations)}
        for r in v.runs:
            w.writerow({**base, "row": "run", "seed": r["seed"], "status": r["status"], "steps": r["steps"],
                        "error": r["error"] or "", "run_dir": r["run_dir"], **{m: num(r["metrics"].get(m)) for m in metrics},
                        **{k: num(r[k]) for k in EXTRA_STATS}})
        w.writerow({**base, "row": "mean", "status": f"{v.completed}/{len(v.runs)} completed", "n": v.completed,
                    "steps": v.runs[0]["steps"] if v.runs else "", "rank": v.rank or "",
                    **{m + s: num(x) for m in [*v.metrics, *EXTRA_STATS]
                       for s, x in zip(suffixes, (v.stats[m].mean, v.stats[m].std, v.stats[m].ci_low, v.stats[m].ci_high))}})
    for dataset, refs in res.references.items():
        for ref in refs:
            w.writerow({"row": "reference", "variant": ref.label, "dataset": dataset, "status": ref.description,
                        "error": ref.error or "", **{m: num(x) for m, x in ref.metrics.items() if m in metrics}})
    return buf.getvalue()


def write_results(res: BenchResults, out: Path) -> None:
    write_text(Path(out) / "results.json", json.dumps(results_dict(res), indent=2, default=str) + "\n")
    write_text(Path(out) / "results.csv", csv_text(res))
