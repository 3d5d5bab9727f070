"""Reference rows of a bench table: where a variant stands between **real data** (the ceiling: samples of
the dataset itself) and **chance** (2D data: uniform noise over the data's bounding box; images: an
untrained generator of the suite's architecture), scored by the same metric functions, sample count and
evaluation seed as the runs. Computed once per dataset and cached in ``OUT/references.json``."""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

REFERENCE_FILE = "references.json"
EVAL_SEED = 12345
"""The evaluation seed of a run when its record names none (``evaluate_run``'s default)."""
MODE_NAMES = ("modes", "high_quality", "reverse_kl", "kl")
FIDELITY_BASES = {"fid": "fid", "isc": "isc", "kid": "kid", "precision": "prc", "recall": "prc", "f_score": "prc"}


@dataclass
class ReferenceRow:
    kind: str  # real | chance
    label: str
    description: str
    metrics: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "label": self.label, "description": self.description, "metrics": dict(self.metrics),
                "error": self.error}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> ReferenceRow:
        return cls(str(d["kind"]), str(d["label"]), str(d["description"]), {k: float(v) for k, v in d["metrics"].items()},
                   d.get("error"))


@dataclass(frozen=True)
class ReferenceJob:
    """What the reference rows of one dataset depend on."""

    dataset: str
    run_dir: Path  # a run of the dataset: its config says how the data (and the architecture) are built
    metrics: tuple[str, ...]
    num_samples: int | None
    seed: int
    device: str = "cpu"

    def key(self) -> str:
        from ganzoo.rundir import read_run_config

        cfg = read_run_config(self.run_dir)
        what = {"dataset": self.dataset, "options": cfg.dataset, "data_root": cfg.run.get("data_root"), "arch": cfg.run["arch"],
                "arch_options": cfg.arch, "metrics": sorted(self.metrics), "n": self.num_samples, "seed": self.seed, "v": 1}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


# ----------------------------------------------------------------------------- scoring


def _mode_values(raw: Mapping[str, Any], names: Sequence[str]) -> dict[str, float]:
    kl = raw.get("reverse_kl", raw.get("kl"))
    both = {**raw, "reverse_kl": kl, "kl": kl}
    return {n: float(both[n]) for n in names if isinstance(both.get(n), (int, float)) and math.isfinite(both[n])}


def _vector_rows(job: ReferenceJob, names: Sequence[str]) -> list[ReferenceRow]:
    from ganzoo.engine.components import build_data
    from ganzoo.metrics.modes import default_num_samples, mode_metrics
    from ganzoo.plugins import get_host
    from ganzoo.rundir import read_run_config

    data = build_data(read_run_config(job.run_dir), get_host())
    info, x = data.info, data.tensors[0].float() if data.tensors is not None else None
    if x is None:
        x = torch.stack([data.dataset[i][0] for i in range(len(data.dataset))]).float()
    n = job.num_samples or default_num_samples(info)
    g = torch.Generator().manual_seed(job.seed)
    idx = torch.randperm(len(x), generator=g)[:n] if len(x) >= n else torch.randint(len(x), (n,), generator=g)
    lo, hi = info.value_range
    noise = torch.rand(n, *info.shape, generator=torch.Generator().manual_seed(job.seed)) * (hi - lo) + lo
    box = f"[{lo:.3g}, {hi:.3g}]" + ("²" if info.shape == (2,) else f"^{info.shape[0]}")
    return [
        ReferenceRow("real", "real data", f"{n:,} points of the training set itself", _mode_values(mode_metrics(x[idx], info), names)),
        ReferenceRow("chance", "chance", f"{n:,} points uniform over the data's bounding box {box}",
                     _mode_values(mode_metrics(noise, info), names)),
    ]


def _extractor(name: str) -> str | None:
    if "[" not in name:
        return None
    label = name[name.index("[") + 1:-1]
    return "classifier" if label.startswith("classifier") else label


def _score_source(source: Any, names: Sequence[str], job: ReferenceJob) -> dict[str, float]:
    """The bench's metric names for a :class:`GeneratorSource`, through :func:`ganzoo.metrics.evaluate.evaluate`."""
    from ganzoo.metrics.evaluate import evaluate

    values: dict[str, float] = {}
    modes = [n for n in names if n in MODE_NAMES]
    if modes:
        report = evaluate(source, ["modes"], num_samples=job.num_samples, seed=job.seed, device=job.device, quiet=True)
        values.update(_mode_values({r.metric: r.value for r in report.results}, modes))
    groups: dict[str | None, list[str]] = {}
    for n in names:
        if n.split("[", 1)[0] in FIDELITY_BASES:
            groups.setdefault(_extractor(n), []).append(n)
    for extractor, group in groups.items():
        wanted = list(dict.fromkeys(FIDELITY_BASES[n.split("[", 1)[0]] for n in group))
        report = evaluate(source, wanted, num_samples=job.num_samples, feature_extractor=extractor, seed=job.seed,
                          device=job.device, quiet=True)
        for n in group:
            base, label = n.split("[", 1)[0], (n[n.index("["):] if "[" in n else None)
            hit = next((r for r in report.results if r.metric == base and (label is None or r.key.endswith(label))), None)
            if hit is not None and isinstance(hit.value, (int, float)):
                values[n] = float(hit.value)
    return values


def _real_image_source(job: ReferenceJob) -> Any:
    """A :class:`GeneratorSource` whose "samples" are training images in a seeded random order (cycled)."""
    from ganzoo.engine.components import build_data
    from ganzoo.metrics.sources import GeneratorSource
    from ganzoo.plugins import get_host
    from ganzoo.rundir import read_run_config

    cfg = read_run_config(job.run_dir)
    data = build_data(cfg, get_host())
    order = torch.randperm(len(data.dataset), generator=torch.Generator().manual_seed(job.seed)).tolist()
    state = {"i": 0}

    def generate(z: torch.Tensor, labels: torch.Tensor | None) -> torch.Tensor:
        k, out = int(z.shape[0]), []
        for _ in range(k):
            out.append(data.dataset[order[state["i"] % len(order)]][0])
            state["i"] += 1
        return torch.stack(out).float().to(z.device)

    root = cfg.run.get("data_root") or None
    return GeneratorSource(info=data.info, latent_dim=1, latent_distribution="normal", generate=generate,
                           dataset_options=dict(cfg.dataset), data_root=Path(root).expanduser() if root else None)


def _untrained_source(job: ReferenceJob) -> Any:
    """The generator of the run's architecture (and mitigations) as initialised at the run's seed, untrained."""
    from ganzoo.engine.components import assemble
    from ganzoo.metrics.sources import source_from_module
    from ganzoo.plugins import get_host
    from ganzoo.rundir import load_generator

    loaded = load_generator(job.run_dir)
    G = assemble(loaded.config, get_host(), info=loaded.info, with_data=False).generator.to(job.device).eval()
    root = loaded.config.run.get("data_root") or None
    return source_from_module(G, loaded.info, latent_distribution=loaded.latent_distribution,
                              dataset_options=dict(loaded.config.dataset), data_root=Path(root).expanduser() if root else None)


def _image_rows(job: ReferenceJob, names: Sequence[str]) -> list[ReferenceRow]:
    from ganzoo.rundir import read_run_config

    arch = read_run_config(job.run_dir).run["arch"]
    rows = []
    for kind, label, desc, make in (
        ("real", "real data", "training images in place of generated ones", _real_image_source),
        ("chance", "chance", f"an untrained {arch} generator (initialised, never trained)", _untrained_source),
    ):
        try:
            rows.append(ReferenceRow(kind, label, desc, _score_source(make(job), names, job)))
        except Exception as exc:  # one reference must not cost the other or the report
            rows.append(ReferenceRow(kind, label, desc, error=f"{type(exc).__name__}: {exc}"))
    return rows


def compute_rows(job: ReferenceJob) -> list[ReferenceRow]:
    """The real-data and chance rows of one dataset (an error becomes the rows' ``error``)."""
    from ganzoo.rundir import load_generator

    names = list(job.metrics)
    try:
        kind = load_generator(job.run_dir).info.kind
        return _vector_rows(job, names) if kind == "vector" else _image_rows(job, names)
    except Exception as exc:
        err = f"{type(exc).__name__}: {exc}"
        return [ReferenceRow("real", "real data", "", error=err), ReferenceRow("chance", "chance", "", error=err)]


# ----------------------------------------------------------------------------- the cache


def read_cache(out: Path) -> dict[str, Any]:
    try:
        data = json.loads((Path(out) / REFERENCE_FILE).read_text(encoding="utf-8"))
        return data if isinstance(data, dict) else {}
    except (OSError, json.JSONDecodeError):
        return {}


def reference_rows(jobs: Mapping[str, ReferenceJob], out: Path, *, compute: bool = True,
                   compute_fn: Callable[[ReferenceJob], list[ReferenceRow]] = compute_rows) -> dict[str, list[ReferenceRow]]:
    """``{dataset: [real row, chance row]}``: cached rows whose inputs are unchanged, the others computed
    (when ``compute``) and added to ``OUT/references.json``."""
    from ganzoo.files import write_text

    cache, rows, changed = read_cache(out), {}, False
    for dataset, job in jobs.items():
        with contextlib.suppress(Exception):
            key = job.key()
            hit = cache.get(key)
            if hit and hit.get("dataset") == dataset:
                rows[dataset] = [ReferenceRow.from_dict(r) for r in hit["rows"]]
            elif compute:
                rows[dataset] = compute_fn(job)
                cache[key] = {"dataset": dataset, "rows": [r.to_dict() for r in rows[dataset]], "num_samples": job.num_samples,
                              "seed": job.seed, "metrics": list(job.metrics)}
                changed = changed or not any(r.error for r in rows[dataset])
    if changed:
        write_text(Path(out) / REFERENCE_FILE, json.dumps(cache, indent=2) + "\n")
    return rows
