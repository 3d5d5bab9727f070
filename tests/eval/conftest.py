"""Fixtures for the evaluation tests: a tiny fixed random feature extractor, tiny trained runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch_fidelity.feature_extractor_base import FeatureExtractorBase

RANDCONV = "ganzoo-test-randconv"

SHAPES_RUN = {
    "run": {"dataset": "shapes", "arch": "dcgan", "loss": "ns-gan", "steps": 20, "batch_size": 32, "seed": 1},
    "dataset": {"resolution": 16, "size": 600},
    "arch": {"width": 8, "latent_dim": 16},
    "train": {"ema": True, "log_every": 10, "sample_every": 0, "checkpoint_every": 0, "tensorboard": False},
}


class RandConvExtractor(FeatureExtractorBase):
    """A fixed random conv net (seed 0): 64 features (mean and std of 32 maps) and 10 logits."""

    def __init__(self, name: str, features_list: list[str], **kwargs: object) -> None:
        super().__init__(name, features_list)
        g = torch.Generator().manual_seed(0)
        self.conv1 = nn.Conv2d(3, 16, 3, stride=2, padding=1)
        self.conv2 = nn.Conv2d(16, 32, 3, stride=2, padding=1)
        self.head = nn.Linear(64, 10)
        for p in self.parameters():
            p.data = torch.randn(p.shape, generator=g) * (1.0 / max(1, p[0].numel()) ** 0.5)

    @staticmethod
    def get_provided_features_list() -> tuple[str, ...]:
        return ("feat", "logits")

    @staticmethod
    def get_default_feature_layer_for_metric(metric: str) -> str:
        return "logits" if metric == "isc" else "feat"

    @staticmethod
    def can_be_compiled() -> bool:
        return False

    @staticmethod
    def get_dummy_input_for_compile() -> torch.Tensor:
        return torch.zeros(1, 3, 16, 16, dtype=torch.uint8)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        assert x.dtype == torch.uint8 and x.shape[1] == 3
        h = F.interpolate(x.float() / 127.5 - 1, size=(16, 16), mode="bilinear", align_corners=False)
        h = F.relu(self.conv2(F.relu(self.conv1(h))))
        feat = torch.cat([h.mean((2, 3)), h.std((2, 3))], 1)
        out = {"feat": feat, "logits": self.head(feat)}
        return tuple(out[k] for k in self.features_list)


@pytest.fixture(scope="session")
def randconv() -> str:
    """Name of the registered test extractor."""
    from torch_fidelity.registry import FEATURE_EXTRACTORS_REGISTRY, register_feature_extractor

    if RANDCONV not in FEATURE_EXTRACTORS_REGISTRY:
        register_feature_extractor(RANDCONV, RandConvExtractor)
    return RANDCONV


@pytest.fixture(scope="session")
def shapes_images() -> torch.Tensor:
    """600 shapes images, 3x16x16, float in [-1, 1] (seed 0, as the reference uses)."""
    from ganzoo_images.shapes import generate_shapes

    return generate_shapes(600, 16, 0)[0]


def _session_cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The cache dir tests/conftest.py's autouse fixture gives every test."""
    if os.environ.get("GANZOO_CACHE_DIR") and os.environ.get("GANZOO_TEST_SHARED_CACHE") is not None:
        return Path(os.environ["GANZOO_CACHE_DIR"])
    return tmp_path_factory.getbasetemp() / "ganzoo-cache"


@pytest.fixture(scope="session")
def shapes_classifier(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Train the shapes (16 px, 600 images) domain classifier once, with a short recipe (8 epochs:
    these tests check plumbing, not accuracy), into the session's cache."""
    import ganzoo.metrics.classifier as clf
    from ganzoo.metrics.classifier_train import TrainSettings

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("GANZOO_CACHE_DIR", str(_session_cache_dir(tmp_path_factory)))
        mp.setattr(clf, "TrainSettings", lambda: TrainSettings(max_epochs=8, sample_budget=4000), raising=False)
        clf.get_classifier("shapes", dataset_options=SHAPES_RUN["dataset"])


@pytest.fixture(scope="session")
def shapes_run(tmp_path_factory: pytest.TempPathFactory, shapes_classifier: None) -> Path:
    """A tiny shapes/dcgan run (20 steps, 16 px, EMA) trained once per session."""
    from ganzoo.engine.api import start_run

    run_dir = tmp_path_factory.mktemp("eval-runs") / "shapes"
    result = start_run(SHAPES_RUN, run_dir)
    assert result.status == "completed"
    return run_dir
