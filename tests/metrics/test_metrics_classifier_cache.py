"""Training, caching and loading domain classifiers (on a tiny synthetic dataset)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

import ganzoo.metrics.classifier as classifier_mod
from ganzoo.errors import GanzooError, UnknownComponentError
from ganzoo.metrics.classifier import DomainClassifier, get_classifier
from ganzoo.metrics.classifier_cache import FORMAT_VERSION, cache_path, default_cache_dir, load_classifier
from ganzoo.metrics.classifier_model import FEATURE_DIM
from ganzoo.plugins import PluginHost

TOY_CLASSES = 4  # as in conftest.ToyDigits
SMALL = {"size": 120}  # for tests that retrain several times and do not check accuracy


class TrainSpy:
    """Wraps train_classifier and counts calls."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._real = classifier_mod.train_classifier
        monkeypatch.setattr(classifier_mod, "train_classifier", self)

    def __call__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.calls += 1
        return self._real(*args, **kwargs)


def test_trains_caches_and_loads_without_training(host: PluginHost, cache_dir: Path,
                                                  monkeypatch: pytest.MonkeyPatch, make_toy: Callable) -> None:
    spy = TrainSpy(monkeypatch)
    clf = get_classifier("toy-digits", host=host, cache_dir=cache_dir)
    assert spy.calls == 1
    assert isinstance(clf, DomainClassifier)
    assert clf.name == "classifier:toy-digits"
    assert clf.num_classes == TOY_CLASSES and clf.channels == 1 and clf.resolution == 8
    assert clf.accuracy >= 0.95
    x, y = make_toy()
    pred = clf.predict(x)
    assert pred.dtype == torch.int64 and (pred == y).float().mean() >= 0.95
    assert torch.equal(clf.assign_modes(x), pred)
    assert clf.logits(x).shape == (200, TOY_CLASSES)
    feats = clf.features(x)
    assert feats.shape == (200, FEATURE_DIM) and feats.dtype == torch.float32 and not feats.requires_grad

    files = sorted(p.name for p in cache_dir.iterdir() if p.suffix == ".pt")
    assert files == [cache_path(cache_dir, "toy-digits", clf.meta["options"], 0).name]
    assert files[0].startswith("toy-digits-") and files[0].endswith(f"-v{FORMAT_VERSION}.pt")
    assert not [p for p in cache_dir.iterdir() if p.name.endswith(".tmp")]
    payload = torch.load(cache_dir / files[0], weights_only=True)
    meta = payload["meta"]
    assert meta["dataset"] == "toy-digits" and meta["options"] == {"channels": 1, "labelled": True, "size": 400}
    assert meta["resolution"] == 8 and meta["channels"] == 1 and meta["num_classes"] == TOY_CLASSES
    assert meta["accuracy"] == pytest.approx(clf.accuracy) and meta["num_holdout"] == 60

    again = get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options={"size": 400})
    assert spy.calls == 1  # loaded, not trained
    assert again.accuracy == clf.accuracy
    assert torch.equal(again.predict(x), pred)
    assert torch.allclose(again.features(x), feats)


def test_corrupt_cache_file_is_retrained_with_a_warning(host: PluginHost, cache_dir: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    clf = get_classifier("toy-digits", host=host, cache_dir=cache_dir)
    path = Path(clf.meta["path"])
    spy = TrainSpy(monkeypatch)
    for corrupt in (b"not a torch file", path.read_bytes()[:100]):
        path.write_bytes(corrupt)
        with pytest.warns(UserWarning, match="training it again"):
            again = get_classifier("toy-digits", host=host, cache_dir=cache_dir)
        assert again.accuracy >= 0.95
        net, meta = load_classifier(path, dataset="toy-digits", options=clf.meta["options"], seed=0)  # valid again
        assert meta["accuracy"] == again.accuracy
    assert spy.calls == 2


def test_stale_or_mismatched_metadata_is_retrained(host: PluginHost, cache_dir: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    clf = get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options=SMALL)
    path = Path(clf.meta["path"])
    payload = torch.load(path, weights_only=True)
    spy = TrainSpy(monkeypatch)
    bad_payloads = [
        {**payload, "format": FORMAT_VERSION + 1},
        {**payload, "meta": {**payload["meta"], "dataset": "other"}},
        {**payload, "meta": {**payload["meta"], "num_classes": 7}},
        {**payload, "meta": {**payload["meta"], "accuracy": 1.5}},
        {**payload, "state_dict": {k: v * float("nan") for k, v in payload["state_dict"].items()}},
    ]
    for bad in bad_payloads:
        torch.save(bad, path)
        with pytest.warns(UserWarning, match="ignoring the cached classifier"):
            get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options=SMALL)
    assert spy.calls == len(bad_payloads)


def test_cache_is_keyed_by_options_and_seed(host: PluginHost, cache_dir: Path, monkeypatch: pytest.MonkeyPatch,
                                           make_toy: Callable) -> None:
    spy = TrainSpy(monkeypatch)
    a = get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options={"size": 300})
    b = get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options={"size": 300, "channels": 3})
    c = get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options={"size": 300}, seed=1)
    assert spy.calls == 3
    assert len({a.meta["path"], b.meta["path"], c.meta["path"]}) == 3
    assert b.channels == 3 and b.accuracy >= 0.95
    x, y = make_toy(channels=3)
    assert (b.predict(x) == y).float().mean() >= 0.95
    get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options={"channels": 3, "size": 300})
    assert spy.calls == 3


def test_training_is_deterministic_by_seed(host: PluginHost, tmp_path: Path) -> None:
    a = get_classifier("toy-digits", host=host, cache_dir=tmp_path / "a", dataset_options={"size": 200})
    b = get_classifier("toy-digits", host=host, cache_dir=tmp_path / "b", dataset_options={"size": 200})
    assert a.accuracy == b.accuracy
    for (ka, va), (kb, vb) in zip(a.net.state_dict().items(), b.net.state_dict().items()):
        assert ka == kb and torch.allclose(va.float(), vb.float(), atol=1e-5)


def test_stacked_dataset_uses_the_base_classifier_per_channel(host: PluginHost, cache_dir: Path,
                                                              monkeypatch: pytest.MonkeyPatch, make_toy: Callable) -> None:
    base = get_classifier("toy-digits", host=host, cache_dir=cache_dir)
    spy = TrainSpy(monkeypatch)
    stacked = get_classifier("stacked-toy", stacked=("toy-digits", 3), host=host, cache_dir=cache_dir,
                             dataset_options={"size": 400})
    assert spy.calls == 0  # same cached base classifier
    assert stacked.meta["path"] == base.meta["path"]
    assert stacked.name == "classifier:toy-digits:per-channel"
    assert stacked.num_classes == TOY_CLASSES**3 and stacked.channels == 3
    x0, y0 = make_toy(120, seed=1)
    x1, y1 = make_toy(120, seed=2)
    x2, y2 = make_toy(120, seed=3)
    y1, x1 = y1.roll(1), x1.roll(1, dims=0)
    y2, x2 = y2.roll(2), x2.roll(2, dims=0)
    x = torch.cat([x0, x1, x2], dim=1)
    expected = y0 * TOY_CLASSES**2 + y1 * TOY_CLASSES + y2
    modes = stacked.assign_modes(x)
    assert (modes == expected).float().mean() >= 0.9
    digits = stacked.digits(x)
    assert torch.equal(modes, digits[:, 0] * 16 + digits[:, 1] * 4 + digits[:, 2])


def test_default_cache_dir_honours_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "classifiers"
    monkeypatch.delenv("GANZOO_CACHE_DIR")
    assert default_cache_dir() == Path("~/.cache/ganzoo/classifiers").expanduser()


def test_env_cache_dir_is_used_by_default(host: PluginHost, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("GANZOO_CACHE_DIR", str(tmp_path))
    clf = get_classifier("toy-digits", host=host, dataset_options={"size": 100})
    assert Path(clf.meta["path"]).parent == tmp_path / "classifiers"


def test_data_that_cannot_train_a_classifier_is_a_clear_error(host: PluginHost, cache_dir: Path) -> None:
    with pytest.raises(GanzooError, match="no labels"):
        get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options={"labelled": False})
    with pytest.raises(GanzooError, match="not image data"):
        get_classifier("toy-vectors", host=host, cache_dir=cache_dir)
    with pytest.raises(UnknownComponentError):
        get_classifier("no-such-data", host=host, cache_dir=cache_dir)
    with pytest.raises(GanzooError, match="unknown option"):
        get_classifier("toy-digits", host=host, cache_dir=cache_dir, dataset_options={"bogus": 1})
    assert not cache_dir.exists() or not [p for p in cache_dir.iterdir() if p.suffix == ".pt"]


def test_unwritable_cache_still_returns_a_classifier(host: PluginHost, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    with pytest.warns(UserWarning, match="could not cache"):
        clf = get_classifier("toy-digits", host=host, cache_dir=blocker / "classifiers", dataset_options={"size": 100})
    assert clf.num_classes == TOY_CLASSES
