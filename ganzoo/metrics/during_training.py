"""Evaluation during training: ``train.eval_every``, ``train.eval_metrics``, ``train.eval_best``.

The trainer builds one :class:`TrainingEvaluator` and calls :meth:`TrainingEvaluator.evaluate` every
``eval_every`` steps and at the end. Each evaluation scores ``trainer.sampling_generator`` (the EMA
generator when EMA is on) with ``train.eval_num_samples`` samples, logs a row
``{"step": s, "eval.<metric key>": value, ...}`` to metrics.jsonl and TensorBoard, and, when
``train.eval_best`` names a metric, keeps ``checkpoints/best.pt`` (a full checkpoint, written
atomically) for its best value so far (``checkpoints/best.json`` says which).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from ganzoo.config import RunConfig
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine import rng
from ganzoo.files import atomic_path, write_text
from ganzoo.errors import ConfigError
from ganzoo.metrics.builtin import FidelityMetric
from ganzoo.metrics.catalogue import ENGINE_VALUES, catalogue, current_name, is_better, metric_for_value
from ganzoo.metrics.evaluate import EvalReport, evaluate, parse_metrics
from ganzoo.metrics.extractors import TRAIN_HINTS, FeatureWeightsUnavailableError
from ganzoo.metrics.fidelity import Extractor, resolve_extractor
from ganzoo.metrics.sources import source_from_module
from ganzoo.plugins import get_host
from ganzoo.specs import DataInfo

__all__ = ["TrainingEvaluator", "BEST_FILE", "BEST_INFO", "best_metric_source"]

BEST_FILE = "best.pt"
BEST_INFO = "best.json"
EVAL_SEED = 12345
"""Latent seed of every evaluation during training: the same latents at every step."""


def best_metric_source(name: str, host: Any = None) -> str:
    """The ``eval_metrics`` entry (a registered metric) that produces ``train.eval_best = name``."""
    try:
        return metric_for_value(name, host).name
    except ConfigError:
        known = ", ".join(v for v, info in catalogue(host).items() if v not in ENGINE_VALUES)
        raise ConfigError(f"train.eval_best: invalid value {name!r}; expected one of {known}") from None


class TrainingEvaluator:
    """Scores the generator during training; see the module docstring."""

    def __init__(self, cfg: RunConfig, run_dir: Path, info: DataInfo, *, device: torch.device | str = "cpu", host: Any = None) -> None:
        train = cfg.train
        self.cfg, self.run_dir, self.info, self.device, self.host = cfg, Path(run_dir), info, torch.device(device), host
        requested = list(train.get("eval_metrics") or [])
        if not requested:
            requested = ["fid"] if info.kind == "image" else ["modes"]
        try:
            self.metrics = parse_metrics(requested, host)
        except ConfigError as exc:
            raise ConfigError(f"train.eval_metrics: {str(exc).split(': ', 1)[-1]}") from None
        self.num_samples = int(train.get("eval_num_samples", 2000))
        self.best_name = current_name(str(train.get("eval_best") or ""))  # a resumed older run may say "kl"
        if self.best_name:
            needed = best_metric_source(self.best_name, host)
            if needed not in self.metrics:
                raise ConfigError(f"train.eval_best {self.best_name!r} needs {needed!r} in train.eval_metrics "
                                  f"(now {self.metrics})")
        self.data_root = Path(cfg.run["data_root"]).expanduser() if cfg.run.get("data_root") else None
        self.extractor: Extractor | None = None
        registry = (host or get_host()).metrics
        image_metrics = [m for m in self.metrics if isinstance(registry.get(m), FidelityMetric)]
        if image_metrics:
            try:
                self.extractor = resolve_extractor(
                    str(train.get("eval_feature_extractor") or "") or None, info, dataset_options=dict(cfg.dataset),
                    data_root=self.data_root, device=self.device, host=host,
                )
            except FeatureWeightsUnavailableError as exc:
                raise FeatureWeightsUnavailableError(exc.reason, TRAIN_HINTS) from None
        self.best = self._read_best()

    # ------------------------------------------------------------------ best checkpoint
    @property
    def best_path(self) -> Path:
        return ckpt.checkpoint_dir(self.run_dir) / BEST_FILE

    def _read_best(self) -> dict[str, Any] | None:
        try:
            data = json.loads((ckpt.checkpoint_dir(self.run_dir) / BEST_INFO).read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return None
        return data if isinstance(data, dict) and data.get("metric") == self.best_name else None

    def _better(self, value: float, old: float) -> bool:
        return is_better(self.best_name, value, old, self.host)

    def _update_best(self, trainer: Any, report: EvalReport) -> bool:
        result = report.find(self.best_name)
        if result is None or result.value != result.value:  # missing or NaN
            return False
        if self.best is not None and (self.best.get("key") != result.key or int(self.best.get("step", 0)) > trainer.step):
            self.best = None  # another extractor, or a best from an abandoned (pre-resume) future
        if self.best is not None and not self._better(result.value, float(self.best["value"])):
            return False
        state = {"format": ckpt.FORMAT, "format_version": ckpt.FORMAT_VERSION, **trainer.state_dict(),
                 "best": {"metric": self.best_name, "key": result.key, "value": float(result.value)}}
        with atomic_path(self.best_path) as tmp:
            torch.save(state, tmp)
        self.best = {"metric": self.best_name, "key": result.key, "value": float(result.value), "step": int(trainer.step),
                     "protocol": result.protocol}
        write_text(ckpt.checkpoint_dir(self.run_dir) / BEST_INFO, json.dumps(self.best, indent=2, default=str) + "\n")
        return True

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def evaluate(self, trainer: Any, logger: Any) -> EvalReport:
        """Score the trainer's sampling generator now; log the row; keep best.pt."""
        G = trainer.sampling_generator
        was_training = G.training
        state = rng.capture()  # evaluation must not change the training's random streams
        G.eval()
        try:
            source = source_from_module(
                G, self.info, latent_distribution=trainer.latent_distribution, kind="training", path=str(self.run_dir),
                step=int(trainer.step), used_ema=getattr(trainer, "ema", None) is not None,
                dataset_options=dict(self.cfg.dataset), data_root=self.data_root,
            )
            report = evaluate(source, self.metrics, num_samples=self.num_samples, extractor=self.extractor,
                              seed=EVAL_SEED, batch_size=256, device=self.device, quiet=True, host=self.host)
        finally:
            G.train(was_training)
            rng.restore(state)
        row: dict[str, Any] = {"step": int(trainer.step)}
        row.update({f"eval.{k}": float(v) for k, v in report.values().items()})
        row["eval.seconds"] = round(report.seconds, 3)
        if self.best_name:
            row["eval.best_saved"] = int(self._update_best(trainer, report))
        logger.log(row)
        return report
