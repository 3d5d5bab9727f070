"""The sample grid of an image run: a conditional generator shows one row per class, in class order."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from PIL import Image

from ganzoo.bench import evaluation
from ganzoo.bench.report import gallery
from ganzoo.bench.results import BenchResults, VariantResult
from ganzoo.bench.suite import parse_suite_text
from ganzoo.metrics.sources import GeneratorSource

SHAPES_RUN = {"dataset": "shapes", "arch": "dcgan", "loss": "ns-gan", "steps": 2, "seed": 0, "batch_size": 8, "device": "cpu"}


def _train(run: Path, conditional: bool) -> Path:
    from ganzoo.engine.api import start_run

    user = {"run": SHAPES_RUN, "dataset": {"resolution": 16, "size": 96},
            "arch": {"width": 4, "latent_dim": 8, "conditional": conditional},
            "train": {"tensorboard": False, "log_every": 1, "sample_every": 0, "num_workers": 0}}
    assert start_run(user, run, quiet=True).status == "completed"
    return run


@pytest.mark.parametrize("conditional", [True, False])
def test_the_grid_of_a_conditional_run_has_one_row_per_class(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              conditional: bool) -> None:
    from ganzoo_images.shapes import NUM_MODES, mode_name

    run = _train(tmp_path / "runs" / "cond" / "seed-0", conditional)
    labels: list[torch.Tensor | None] = []
    load = evaluation.source_from_run

    def spying(*args: object, **kwargs: object) -> GeneratorSource:
        source = load(*args, **kwargs)  # type: ignore[arg-type]
        generate = source.generate
        source.generate = lambda z, y: (labels.append(None if y is None else y.cpu()), generate(z, y))[1]
        return source

    monkeypatch.setattr(evaluation, "source_from_run", spying)
    values, details = evaluation.evaluate_run(run, [])
    grid = Image.open(run / evaluation.GRID_FILE)
    rows = round(grid.height / grid.width * (8 * 18 + 2) / 18)  # 16 px images with 2 px padding, 8 per row
    if not conditional:
        assert "grid_classes" not in details or details["grid_classes"] is None
        assert rows == 8 and all(y is None for y in labels)
        return
    assert NUM_MODES > 10 and rows == 10  # the first ten classes, one row each
    assert torch.cat(labels).tolist() == [k for k in range(10) for _ in range(8)]  # the labels reach the generator
    assert details["grid_classes"] == [mode_name(k) for k in range(10)]

    suite = parse_suite_text('name = "g"\ndescription = "d"\nmetrics = ["modes"]\n[[variants]]\nname = "cond"\n'
                             'dataset = "shapes"\narch = "dcgan"\nloss = "ns-gan"\n', source="g.toml")
    v = suite.variants[0]
    runs = [{"variant": "cond", "seed": 0, "status": "completed", "metrics": {}, "run_dir": "runs/cond/seed-0",
             "eval": details}]
    res = BenchResults(suite, {}, [VariantResult(v.name, v.dataset, v.arch, v.loss, v.mitigations, v.components, v.metrics, runs)])
    ((label, caption, png),) = gallery(res, tmp_path, "shapes")
    assert label == "cond" and png == (run / evaluation.GRID_FILE).read_bytes()
    assert f"rows are classes: {mode_name(0)}, {mode_name(1)}" in caption and mode_name(10) not in caption
