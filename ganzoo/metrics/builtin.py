"""The built-in metrics, registered through the ``ganzoo`` entry point like a third party's: FID, IS,
KID and precision/recall through torch-fidelity, and mode coverage. :func:`ganzoo.metrics.evaluate.evaluate`
computes the torch-fidelity ones in one call over shared features (:class:`FidelityMetric`) and the mode
metrics by the dataset's mode protocol (:class:`ModeCoverage`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from ganzoo import hookimpl
from ganzoo.specs import DataInfo, MetricContext, MetricSpec, MetricValue


class FidelityMetric(MetricSpec):
    """A torch-fidelity metric over image features (Inception, or ganzoo's domain classifier offline)."""

    reference = "torch-fidelity (Obukhov et al. 2020)"

    def applies(self, info: DataInfo) -> str | None:
        return None if info.kind == "image" else f"{self.name} scores images; dataset {info.name!r} is {info.kind} data"

    def compute(self, ctx: MetricContext) -> Mapping[str, float]:
        raise NotImplementedError(f"{self.name} is computed by ganzoo.metrics.evaluate with the other torch-fidelity metrics")


class FID(FidelityMetric):
    name = "fid"
    summary = "Frechet Inception Distance between generated and real feature statistics"
    reference = "Heusel et al. 2017, GANs Trained by a Two Time-Scale Update Rule (arXiv:1706.08500)"
    values: ClassVar[Mapping[str, MetricValue]] = {"fid": MetricValue("min", "FID", fmt=".1f")}


class InceptionScore(FidelityMetric):
    name = "isc"
    summary = "Inception Score: confident and diverse class predictions (10 splits)"
    reference = "Salimans et al. 2016, Improved Techniques for Training GANs (arXiv:1606.03498)"
    values: ClassVar[Mapping[str, MetricValue]] = {"isc": MetricValue("max", "IS"), "isc_std": MetricValue("min", "IS std")}


class KID(FidelityMetric):
    name = "kid"
    summary = "Kernel Inception Distance: unbiased MMD with a cubic polynomial kernel"
    reference = "Binkowski et al. 2018, Demystifying MMD GANs (arXiv:1801.01401)"
    values: ClassVar[Mapping[str, MetricValue]] = {"kid": MetricValue("min", "KID", fmt=".3f"),
                                                     "kid_std": MetricValue("min", "KID std", fmt=".3f")}


class PrecisionRecall(FidelityMetric):
    name = "prc"
    summary = "improved precision and recall (k-NN manifolds of real and generated features) and their F-score"
    reference = "Kynkaanniemi et al. 2019, Improved Precision and Recall Metric (arXiv:1904.06991)"
    values: ClassVar[Mapping[str, MetricValue]] = {
        "precision": MetricValue("max", "precision"),
        "recall": MetricValue("max", "recall"),
        "f_score": MetricValue("max", "F-score"),
    }


class ModeCoverage(MetricSpec):
    """Modes captured and the reverse KL of the mode histogram to uniform (2D mixtures: also high quality;
    with no high-quality sample the reverse KL is ``inf``)."""

    name = "modes"
    summary = "mode coverage: modes captured, reverse KL to uniform, high-quality fraction (2D)"
    reference = "Srivastava et al. 2017, VEEGAN (arXiv:1705.07761); Lin et al. 2018, PacGAN (arXiv:1712.04086)"
    values: ClassVar[Mapping[str, MetricValue]] = {
        "modes": MetricValue("max", "modes"),
        "reverse_kl": MetricValue("min", "reverse KL", fmt=".3f"),
        "high_quality": MetricValue("max", "high quality", percent=True, fmt=".1f"),
    }

    def applies(self, info: DataInfo) -> str | None:
        if info.mode_centres is not None or (info.kind == "image" and info.num_modes):
            return None
        return f"dataset {info.name!r} has no known modes (a 2D mixture or labelled images with num_modes)"

    def compute(self, ctx: MetricContext) -> Mapping[str, float]:
        raise NotImplementedError("modes is computed by ganzoo.metrics.evaluate by the dataset's mode protocol")


BUILTIN_METRICS = (FID(), InceptionScore(), KID(), PrecisionRecall(), ModeCoverage())


@hookimpl
def ganzoo_register_metrics(register: Callable[[Any], None]) -> None:
    for spec in BUILTIN_METRICS:
        register(spec)
