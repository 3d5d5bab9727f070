"""`ganzoo eval` end to end: tables, eval.json, ONNX vs checkpoint, offline errors, vector data."""

from __future__ import annotations

import json
import urllib.error
from pathlib import Path

import pytest
from click.testing import CliRunner

from ganzoo.cli import cli
from ganzoo.metrics.extractors import WEIGHTS_ENV, inception_weights_cache_path, weights_available

FAST = ["--feature-extractor", "classifier", "--num-samples", "200", "--quiet"]


def _eval(*args: str):
    return CliRunner().invoke(cli, ["eval", *args], catch_exceptions=False)


def _export(run_dir: Path, out: Path) -> Path:
    from ganzoo.export import export_run

    export_run(run_dir, out)
    return out


def test_eval_shapes_run_prints_table_and_writes_eval_json(shapes_run):
    res = _eval(str(shapes_run), "--metrics", "fid,isc,kid,prc,modes", *FAST)
    assert res.exit_code == 0, res.output
    out = res.stdout
    for key in ("fid[classifier:shapes]", "isc[classifier:shapes]", "kid[classifier:shapes]",
                "precision[classifier:shapes]", "recall[classifier:shapes]", "modes", "reverse_kl"):
        assert key in out
    assert "shapes/train (600)" in out and "step 20" in out and "EMA" in out
    data = json.loads((shapes_run / "eval.json").read_text())
    assert data["source"]["kind"] == "checkpoint" and data["source"]["step"] == 20 and data["source"]["ema"] is True
    assert data["versions"]["ganzoo"] and data["versions"]["torch_fidelity"]
    fid = data["metrics"]["fid[classifier:shapes]"]
    assert fid["extractor"] == "classifier:shapes" and fid["num_generated"] == 200 and fid["num_reference"] == 600
    assert fid["reference"]["dataset"] == "shapes" and fid["reference"]["split"] == "train"
    assert fid["resolution"] == 16 and fid["seed"] == 0 and fid["feature_layer"] == "features"
    assert 0 < fid["classifier_accuracy"] <= 1
    assert data["metrics"]["kid[classifier:shapes]"]["kid_subset_size"] == 200
    assert data["metrics"]["modes"]["protocol"] == "classifier" and data["metrics"]["modes"]["num_modes"] == 12
    assert data["values"]["fid[classifier:shapes]"] == fid["value"] > 0


def test_eval_json_flag_prints_json_and_reuses_cached_reference(shapes_run):
    res = _eval(str(shapes_run), "--metrics", "kid", "--json", *FAST)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert "kid[classifier:shapes]" in data["values"]


@pytest.fixture(scope="module")
def shapes_onnx(shapes_run: Path) -> Path:
    return _export(shapes_run, shapes_run / "generator.onnx")


def test_onnx_and_checkpoint_agree_within_one_percent(shapes_run, shapes_onnx):
    args = ["--metrics", "fid,kid,prc,modes", "--json", *FAST]
    res_ck, res_ox = _eval(str(shapes_run), *args), _eval(str(shapes_onnx), *args)
    assert res_ck.exit_code == 0 and res_ox.exit_code == 0, (res_ck.output, res_ox.output)
    ck, ox = json.loads(res_ck.stdout), json.loads(res_ox.stdout)
    assert ox["source"]["kind"] == "onnx" and ox["source"]["providers"] == ["CPUExecutionProvider"]
    assert (shapes_run / "generator.eval.json").is_file()
    for key in ("fid[classifier:shapes]", "kid[classifier:shapes]", "precision[classifier:shapes]", "recall[classifier:shapes]"):
        a, b = ck["values"][key], ox["values"][key]
        assert abs(a - b) <= 0.01 * abs(a) + 1e-6, (key, a, b)
    assert ox["values"]["modes"] == ck["values"]["modes"]
    assert ox["metrics"]["fid[classifier:shapes]"]["reference"] == ck["metrics"]["fid[classifier:shapes]"]["reference"]


def test_bare_onnx_file_finds_its_dataset_from_metadata(shapes_onnx, tmp_path, randconv):
    bare = tmp_path / "g.onnx"
    bare.write_bytes(shapes_onnx.read_bytes())
    res = _eval(str(bare), "--metrics", "fid", "--feature-extractor", randconv, "--num-samples", "100",
                "--num-reference", "300", "--json", "--quiet")
    assert res.exit_code == 0, res.output
    fid = json.loads(res.stdout)["metrics"][f"fid[{randconv}]"]
    assert fid["reference"]["dataset"] == "shapes" and fid["reference"]["options"]["resolution"] == 16
    assert fid["num_reference"] == 300 and fid["resolution"] == 16
    assert (tmp_path / "g.eval.json").is_file()


def test_offline_inception_error_is_one_clear_line(shapes_run, tmp_path, monkeypatch):
    import ganzoo.metrics.extractors as ex

    def offline(*a, **k):
        raise urllib.error.URLError("[Errno -2] Name or service not known")

    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.delenv(WEIGHTS_ENV, raising=False)
    monkeypatch.setattr(ex, "_download", offline)
    res = CliRunner().invoke(cli, ["eval", str(shapes_run), "--metrics", "fid", "--num-samples", "50"])
    assert res.exit_code == 2
    err = res.stderr.strip()
    assert err.startswith("Error: ") and len(err.splitlines()) == 1 and "Traceback" not in res.output
    assert "could not be downloaded" in err and "--feature-weights" in err and "--feature-extractor classifier" in err


def test_missing_feature_weights_file_is_a_config_error(shapes_run, tmp_path):
    res = CliRunner().invoke(cli, ["eval", str(shapes_run), "--feature-weights", str(tmp_path / "nope.pth")])
    assert res.exit_code == 2 and "no such file" in res.stderr


@pytest.mark.parametrize(
    "args, message",
    [
        (["--metrics", "fid,lpips"], "unknown metric 'lpips'"),
        (["--feature-extractor", "resnet"], "--feature-extractor 'resnet'"),
        (["--reference", "no-such-data", "--feature-extractor", "classifier"], "--reference 'no-such-data'"),
        (["--num-samples", "1"], "--num-samples 1"),
    ],
)
def test_user_mistakes_exit_2(shapes_run, args, message):
    res = CliRunner().invoke(cli, ["eval", str(shapes_run), *args])
    assert res.exit_code == 2, res.output
    assert message in res.stderr and "Traceback" not in res.output


@pytest.fixture(scope="module")
def ring8_run(tmp_path_factory) -> Path:
    from ganzoo.engine.api import start_run

    run_dir = tmp_path_factory.mktemp("eval-ring8") / "run"
    start_run({"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "steps": 30},
               "train": {"sample_every": 0, "checkpoint_every": 0, "tensorboard": False}}, run_dir)
    return run_dir


def test_vector_data_modes_only(ring8_run):
    res = _eval(str(ring8_run), "--metrics", "modes", "--quiet")
    assert res.exit_code == 0, res.output
    data = json.loads((ring8_run / "eval.json").read_text())
    modes = data["metrics"]["modes"]
    assert modes["protocol"] == "2d" and modes["num_generated"] == 2500 and modes["num_modes"] == 8
    assert "high_quality" in data["values"] and "reverse_kl" in data["values"] and "kl" not in data["values"]
    bad = CliRunner().invoke(cli, ["eval", str(ring8_run), "--metrics", "fid,modes"])
    assert bad.exit_code == 2 and "use --metrics modes" in bad.stderr


def test_metrics_in_two_feature_spaces_in_one_eval(shapes_run, randconv):
    """``fid[classifier],kid[randconv]``: each metric in its own feature space, the same values as one evaluation
    per extractor."""
    res = _eval(str(shapes_run), "--metrics", f"fid[classifier],kid[{randconv}],modes", "--num-samples", "200", "--quiet")
    assert res.exit_code == 0, res.output
    rows = [line.split() for line in res.stdout.splitlines()]
    both = {r[0]: float(r[1]) for r in rows if len(r) > 2 and r[0][0].isalpha() and r[1][-1].isdigit()}  # this evaluation's table
    assert set(both) == {"fid[classifier:shapes]", f"kid[{randconv}]", f"kid_std[{randconv}]", "modes", "reverse_kl"}
    alone = json.loads(_eval(str(shapes_run), "--metrics", "fid,modes", *FAST, "--json").stdout)["values"]
    assert both["fid[classifier:shapes]"] == pytest.approx(alone["fid[classifier:shapes]"], rel=1e-4)  # table: 4 decimals
    assert both["modes"] == alone["modes"]
    kid = json.loads(_eval(str(shapes_run), "--metrics", "kid", "--feature-extractor", randconv, "--num-samples", "200",
                           "--json").stdout)["values"]
    assert both[f"kid[{randconv}]"] == pytest.approx(kid[f"kid[{randconv}]"], rel=1e-4, abs=1e-6)


def test_a_bracketed_extractor_on_a_metric_without_one_is_a_config_error(shapes_run):
    res = CliRunner().invoke(cli, ["eval", str(shapes_run), "--metrics", "modes[classifier]"])
    assert res.exit_code == 2 and "only FID-like metrics" in res.stderr and "Traceback" not in res.output


def test_real_and_chance_rows_are_scored_like_the_run(ring8_run):
    """The bench's reference rows from ``ganzoo eval``: real data finds every mode with the data's own quality,
    uniform points are mostly off the modes; both are in eval.json beside the run's values."""
    res = _eval(str(ring8_run), "--metrics", "modes", "--num-samples", "1000", "--real-and-chance", "--quiet")
    assert res.exit_code == 0, res.output
    assert "Reference rows, scored like the generator" in res.stdout and "1,000 points of the training set itself" in res.stdout
    data = json.loads((ring8_run / "eval.json").read_text())
    real, chance = data["references"]
    assert (real["kind"], chance["kind"]) == ("real", "chance") and real["error"] is None is chance["error"]
    assert set(real["metrics"]) == set(data["values"]) == {"modes", "reverse_kl", "high_quality"}
    assert real["metrics"]["modes"] == 8 and real["metrics"]["high_quality"] > 0.95 > 0.2 > chance["metrics"]["high_quality"]
    assert real["metrics"]["reverse_kl"] < 0.02 < chance["metrics"]["reverse_kl"]


def test_real_and_chance_rows_use_the_runs_feature_extractor(shapes_run):
    res = _eval(str(shapes_run), "--metrics", "fid", "--real-and-chance", "--json", *FAST)
    assert res.exit_code == 0, res.output
    real, chance = json.loads(res.stdout)["references"]
    assert set(real["metrics"]) == set(chance["metrics"]) == {"fid[classifier:shapes]"}
    assert real["metrics"]["fid[classifier:shapes]"] < chance["metrics"]["fid[classifier:shapes]"]
    assert "untrained dcgan" in chance["description"]


def test_real_and_chance_needs_a_run_directory(shapes_onnx):
    res = CliRunner().invoke(cli, ["eval", str(shapes_onnx), "--real-and-chance"])
    assert res.exit_code == 2 and "--real-and-chance needs a RUN_DIR" in res.stderr and "Traceback" not in res.output


@pytest.mark.slow
@pytest.mark.skipif(not weights_available(), reason="Inception weights absent (set GANZOO_FEATURE_WEIGHTS or cache them)")
def test_inception_path_with_feature_weights(shapes_run):
    import os

    weights = os.environ.get(WEIGHTS_ENV) or str(inception_weights_cache_path())
    res = _eval(str(shapes_run), "--metrics", "fid,isc", "--num-samples", "64", "--num-reference", "64",
                "--feature-weights", weights, "--quiet", "--json")
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    fid = data["metrics"]["fid[inception-v3-compat]"]
    assert fid["extractor"] == "inception-v3-compat" and fid["feature_layer"] == "2048" and fid["num_reference"] == 64
    assert fid["value"] > 0 and data["values"]["isc[inception-v3-compat]"] >= 1.0
