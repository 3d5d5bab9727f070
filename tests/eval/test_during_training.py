"""Evaluation during training: logged rows, best.pt, config checks, no effect on the training itself."""

from __future__ import annotations

import copy
import json
import urllib.error

import pytest
import torch

from ganzoo.config import resolve
from ganzoo.engine import checkpoint as ckpt
from ganzoo.engine.api import start_run
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.metrics.during_training import TrainingEvaluator
from ganzoo.metrics.extractors import FeatureWeightsUnavailableError
from ganzoo.plugins import get_host
from tests.eval.conftest import SHAPES_RUN

EVAL = {"eval_every": 10, "eval_metrics": ["fid", "modes"], "eval_best": "fid", "eval_num_samples": 100,
        "eval_feature_extractor": "classifier"}


def _config(**train):
    user = copy.deepcopy(SHAPES_RUN)
    user["train"].update(train)
    return user


def _info():
    from ganzoo.specs import DataInfo

    return DataInfo(name="shapes", kind="image", shape=(3, 16, 16), num_classes=12, num_modes=12)


def test_eval_rows_and_best_checkpoint(tmp_path, shapes_classifier):
    run = tmp_path / "run"
    assert start_run(_config(**EVAL), run).status == "completed"
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    evals = [r for r in rows if "eval.fid[classifier:shapes]" in r]
    assert [r["step"] for r in evals] == [10, 20]
    assert all({"eval.modes", "eval.reverse_kl", "eval.best_saved"} <= set(r) for r in evals)
    best = json.loads((run / "checkpoints" / "best.json").read_text())
    fids = {r["step"]: r["eval.fid[classifier:shapes]"] for r in evals}
    assert best["metric"] == "fid" and best["key"] == "fid[classifier:shapes]"
    assert best["value"] == min(fids.values()) and fids[best["step"]] == best["value"]
    state = ckpt.read(run / "checkpoints" / "best.pt")
    assert state["step"] == best["step"] and state["best"]["value"] == best["value"] and state["ema"] is not None
    assert [s for s, _ in ckpt.list_checkpoints(run)] == [20]  # best.pt is not a resume candidate


@pytest.mark.slow
def test_evaluation_does_not_change_training(tmp_path, shapes_classifier):
    a, b = tmp_path / "with", tmp_path / "without"
    start_run(_config(**EVAL), a)
    start_run(_config(), b)
    sa, sb = ckpt.load_latest(a)[0], ckpt.load_latest(b)[0]
    for key in ("generator", "discriminator", "ema"):
        for name, t in sa[key].items():
            assert torch.equal(t, sb[key][name]), (key, name)


@pytest.mark.parametrize(
    "train, message",
    [
        ({"eval_metrics": ["fid", "lpips"]}, "train.eval_metrics"),
        ({"eval_metrics": ["fid"], "eval_best": "precision"}, "needs 'prc'"),
        ({"eval_metrics": ["modes"], "eval_best": "sharpness"}, "train.eval_best"),
    ],
)
def test_bad_eval_settings_fail_before_training(tmp_path, train, message):
    cfg = resolve(_config(eval_every=5, eval_feature_extractor="classifier", **train), get_host())
    with pytest.raises(ConfigError, match=message):
        TrainingEvaluator(cfg, tmp_path, _info())


def test_image_metrics_on_vector_data_are_refused(tmp_path):
    from ganzoo.specs import DataInfo

    cfg = resolve({"run": {"dataset": "ring8"}, "train": {"eval_every": 5, "eval_metrics": ["fid"]}}, get_host())
    with pytest.raises(GanzooError, match="vector data"):
        TrainingEvaluator(cfg, tmp_path, DataInfo(name="ring8", kind="vector", shape=(2,)))


def test_offline_inception_during_training_names_the_config_key(tmp_path, monkeypatch):
    import ganzoo.metrics.extractors as ex

    def offline(*a, **k):
        raise urllib.error.URLError("offline")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(ex.WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(ex, "_download", offline)
    cfg = resolve(_config(eval_every=5, eval_metrics=["fid"], eval_feature_extractor=""), get_host())
    with pytest.raises(FeatureWeightsUnavailableError, match="train.eval_feature_extractor=classifier"):
        TrainingEvaluator(cfg, tmp_path, _info())
