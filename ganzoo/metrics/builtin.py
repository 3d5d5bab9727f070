"""The built-in metrics, registered through the ``ganzoo`` entry point like a third party's: FID, IS,
KID and precision/recall through torch-fidelity, intra-class FID of conditional generators, mode coverage, and the classification accuracy of a
conditional generator's samples (``cas``, computed by itself). :func:`ganzoo.metrics.evaluate.evaluate`
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


class IntraClassFID(FidelityMetric):
    """Intra-class FID of a class-conditional generator: the mean over classes of the FID between that
    class's generated samples (``n / num_classes``, drawn with its label) and that class's real images;
    computed by :mod:`ganzoo.metrics.intraclass` in the evaluation's feature space, per-class values in
    the protocol as ``ifid_class_K``."""

    name = "ifid"
    summary = "intra-class FID: mean over classes of per-class FID (conditional generators on labelled data)"
    reference = "Miyato & Koyama 2018, cGANs with Projection Discriminator (arXiv:1802.05637)"
    values: ClassVar[Mapping[str, MetricValue]] = {"ifid": MetricValue("min", "intra-FID", fmt=".1f")}

    def applies(self, info: DataInfo) -> str | None:
        if info.kind != "image":
            return f"ifid scores images; dataset {info.name!r} is {info.kind} data"
        if not info.num_classes:
            return f"ifid needs labelled data; dataset {info.name!r} has no classes (num_classes is unset)"
        return None


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


class ClassificationAccuracy(MetricSpec):
    """GAN-test: the domain classifier's accuracy on samples of each class of a class-conditional
    generator (``n / num_classes`` samples per class, drawn with ``ctx.sample_class``). High when each
    class's samples look like real images of that class; about ``1 / num_classes`` when the generator
    ignores its labels. Per-class accuracies are recorded as ``cas_class_K``, with the classifier's own
    held-out accuracy on real data (``classifier_accuracy``, the ceiling to read ``cas`` against)."""

    name = "cas"
    summary = "classification accuracy of generated samples of each class (GAN-test; conditional generators)"
    reference = "Shmelkov et al. 2018, How good is my GAN? (GAN-test, arXiv:1807.09499)"
    values: ClassVar[Mapping[str, MetricValue]] = {"cas": MetricValue("max", "CAS", percent=True, fmt=".1f")}
    default_num_samples: ClassVar[int] = 10_000

    def applies(self, info: DataInfo) -> str | None:
        if info.kind != "image":
            return f"cas scores images; dataset {info.name!r} is {info.kind} data"
        if not info.num_classes:
            return f"cas needs labelled data; dataset {info.name!r} has no classes (num_classes is unset)"
        return None

    def compute(self, ctx: MetricContext) -> Mapping[str, float]:
        from ganzoo.errors import GanzooError
        from ganzoo.metrics.classifier import get_classifier

        info = ctx.info
        reason = self.applies(info)
        if reason:
            raise GanzooError(reason)
        if ctx.sample_class is None:
            raise GanzooError("cas needs a class-conditional generator; this one has no class labels input")
        num_classes = int(info.num_classes or 0)
        per_class = max(1, (ctx.num_samples or self.default_num_samples) // num_classes)
        clf = get_classifier(info.name, stacked=info.stacked, data_root=ctx.data_root,
                             dataset_options=dict(ctx.dataset_options), device=str(ctx.device))
        if clf.num_classes != num_classes:
            raise GanzooError(f"cas: the domain classifier of {info.name!r} has {clf.num_classes} classes; "
                              f"the generator has {num_classes}")
        out: dict[str, float] = {}
        correct = 0
        for k in range(num_classes):
            pred = clf.predict(ctx.sample_class(per_class, k)).cpu()
            hits = int((pred == k).sum())
            correct += hits
            out[f"cas_class_{k}"] = hits / per_class
        return {"cas": correct / (per_class * num_classes), **out, "num_per_class": float(per_class),
                "num_generated": float(per_class * num_classes),
                "classifier_accuracy": float(clf.accuracy)}


BUILTIN_METRICS = (FID(), InceptionScore(), KID(), PrecisionRecall(), IntraClassFID(), ModeCoverage(), ClassificationAccuracy())


@hookimpl
def ganzoo_register_metrics(register: Callable[[Any], None]) -> None:
    for spec in BUILTIN_METRICS:
        register(spec)
