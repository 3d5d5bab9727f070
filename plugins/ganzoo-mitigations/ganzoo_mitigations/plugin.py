"""Entry point of the built-in ganzoo-mitigations plugin."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ganzoo import hookimpl
from ganzoo_mitigations.acgan import ACGAN
from ganzoo_mitigations.ada import ADA
from ganzoo_mitigations.consistency import Consistency
from ganzoo_mitigations.diffaugment import DiffAugment
from ganzoo_mitigations.jacobian_truncation import JacobianTruncation
from ganzoo_mitigations.lecam import LeCam
from ganzoo_mitigations.minibatch_discrimination import MinibatchDiscriminationSpec
from ganzoo_mitigations.minibatch_stddev import MinibatchStdDevSpec
from ganzoo_mitigations.mode_seeking import ModeSeeking
from ganzoo_mitigations.pacgan import PacGAN
from ganzoo_mitigations.r1 import R1
from ganzoo_mitigations.ratio_rejection import RatioRejection
from ganzoo_mitigations.r2 import R2
from ganzoo_mitigations.spectral_norm import SpectralNorm
from ganzoo_mitigations.top_k import TopK
from ganzoo_mitigations.unrolled import Unrolled


@hookimpl
def ganzoo_register_mitigations(register: Callable[[Any], None]) -> None:
    for spec in (SpectralNorm(), MinibatchDiscriminationSpec(), MinibatchStdDevSpec(), PacGAN(), Unrolled(), R1(), ModeSeeking(),
                 R2(), DiffAugment(), ADA(), LeCam(), Consistency(), TopK(), JacobianTruncation(),
                 RatioRejection()):
        register(spec)
    register(ACGAN())
