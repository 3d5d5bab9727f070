"""How reports write a metric's numbers (``MetricValue.number`` / ``text``): no scientific notation for counts."""

from __future__ import annotations

from ganzoo import MetricValue
from ganzoo.bench.report import fmt_value


def test_thousands_are_written_out():
    modes = MetricValue("max", "modes")  # the default ".3g"
    assert [modes.text(v) for v in (1000.0, 999.6, 843.2, 7.4, 0.25)] == ["1000", "1000", "843", "7.4", "0.25"]
    assert fmt_value("modes", 1000.0) == "1000"  # the bench report's cells (stacked-MNIST's real-data row)


def test_small_values_and_percentages_keep_their_format():
    assert MetricValue("min", "kl").text(0.0001234) == "0.000123"
    hq = MetricValue("max", "high quality", percent=True)
    assert (hq.text(0.8908), hq.number(0.8908)) == ("89.1%", "89.1")
