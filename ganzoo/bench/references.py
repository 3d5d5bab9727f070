"""The reference rows of each bench table (:func:`ganzoo.metrics.real_and_chance.score_references`: real data and
chance, scored like the runs), computed once per dataset and cached in ``OUT/references.json``."""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from ganzoo.files import read_json_object, write_text
from ganzoo.metrics.real_and_chance import ReferenceRow, score_references
from ganzoo.rundir import read_run_config

REFERENCE_FILE = "references.json"


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
        cfg = read_run_config(self.run_dir)
        what = {"dataset": self.dataset, "options": cfg.dataset, "data_root": cfg.run.get("data_root"), "arch": cfg.run["arch"],
                "arch_options": cfg.arch, "metrics": sorted(self.metrics), "n": self.num_samples, "seed": self.seed, "v": 3}
        return hashlib.sha256(json.dumps(what, sort_keys=True, default=str).encode()).hexdigest()[:16]


def reference_rows(jobs: Mapping[str, ReferenceJob], out: Path, *, compute: bool = True) -> dict[str, list[ReferenceRow]]:
    """``{dataset: [real row, chance row]}``: cached rows whose inputs are unchanged, the others computed (when
    ``compute``) and added to ``OUT/references.json``."""
    cache, rows, changed = read_json_object(Path(out) / REFERENCE_FILE), {}, False
    for dataset, job in jobs.items():
        with contextlib.suppress(Exception):
            key = job.key()
            if (cache.get(key) or {}).get("dataset") == dataset:
                rows[dataset] = [ReferenceRow(**r) for r in cache[key]["rows"]]
            elif compute:
                rows[dataset] = score_references(job.run_dir, job.metrics, num_samples=job.num_samples, seed=job.seed,
                                                 device=job.device)
                cache[key] = {"dataset": dataset, "rows": [asdict(r) for r in rows[dataset]], "num_samples": job.num_samples,
                              "seed": job.seed, "metrics": list(job.metrics)}
                changed = changed or not any(r.error for r in rows[dataset])
    if changed:
        write_text(Path(out) / REFERENCE_FILE, json.dumps(cache, indent=2) + "\n")
    return rows
