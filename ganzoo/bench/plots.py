"""Figures of a bench report, each returned as PNG bytes (matplotlib's object API: no pyplot state, no backend)."""

from __future__ import annotations

import functools
import io
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any, ParamSpec

import matplotlib.style
import numpy as np
import torch
from matplotlib.figure import Figure

from ganzoo.bench.evaluation import SAMPLES_FILE
from ganzoo.bench.results import BenchResults
from ganzoo.engine.samples import grid_png
from ganzoo.metrics.catalogue import value_info as metric_info
from ganzoo.metrics.modes2d import nearest_mode
from ganzoo.metrics.real_and_chance import run_data
from ganzoo.rundir import read_metrics
from ganzoo.runtime.output import draw_points

PALETTE = ["#4C72B0", "#DD8452", "#55A868", "#C44E52", "#8172B3", "#937860", "#DA8BC3", "#8C8C8C", "#CCB974", "#64B5CD"]
STYLE: dict[str, Any] = {
    "font.size": 9, "axes.titlesize": 10, "axes.labelsize": 9, "xtick.labelsize": 8, "ytick.labelsize": 8.5,
    "axes.spines.top": False, "axes.spines.right": False, "axes.edgecolor": "#888", "axes.titleweight": "bold",
    "font.family": "DejaVu Sans", "legend.frameon": False, "legend.fontsize": 8,
}
P = ParamSpec("P")


def _png(draw: Callable[P, Figure | None]) -> Callable[P, bytes | None]:
    """``draw`` run in the report's style, its figure returned as PNG bytes (None: nothing to draw)."""
    @functools.wraps(draw)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> bytes | None:
        with matplotlib.style.context(STYLE):
            if (fig := draw(*args, **kwargs)) is None:
                return None
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", facecolor="white")
        return buf.getvalue()
    return wrapper


def variant_colors(res: BenchResults) -> dict[str, str]:
    return {v.name: PALETTE[i % len(PALETTE)] for i, v in enumerate(res.variants)}


@_png
def metrics_figure(res: BenchResults, dataset: str) -> Figure:
    """Horizontal dot-and-bar chart per metric; variants in rank order, the best at the top."""
    group, metrics, colors = res.by_dataset()[dataset], res.metrics_of(dataset), variant_colors(res)
    modes = [((r.get("eval") or {}).get("modes") or {}).get("num_modes") for r in res.runs if r["dataset"] == dataset]
    total_modes = next((int(n) for n in modes if n), None)  # the number of modes of the dataset, from its evaluations
    fig = Figure(figsize=(max(6.0, 3.1 * len(metrics) + 1.6), 0.42 * len(group) + 1.3))
    axes, y = fig.subplots(1, len(metrics), sharey=True, squeeze=False)[0], np.arange(len(group))[::-1]
    for ax, m in zip(axes, metrics):
        info = metric_info(m)
        k = 100.0 if info.percent else 1.0
        for yi, v in zip(y, group):
            s, c = v.stats.get(m), colors[v.name]
            if s is None or s.mean is None:
                ax.text(0.02, yi, "no result", transform=ax.get_yaxis_transform(), va="center", fontsize=8, color="#999")
                continue
            ax.barh(yi, s.mean * k, height=0.62, color=c, alpha=0.28, edgecolor=c, linewidth=0.8)
            if s.std is not None:
                ax.errorbar(s.mean * k, yi, xerr=s.std * k, fmt="none", ecolor="#333", elinewidth=1.1, capsize=3)
            jitter = np.linspace(-0.16, 0.16, len(s.values)) if len(s.values) > 1 else np.zeros(1)
            ax.scatter(np.array(s.values) * k, yi + jitter, s=16, color=c, edgecolor="white", linewidth=0.6, zorder=3)
            ax.plot([s.mean * k] * 2, [yi - 0.31, yi + 0.31], color=c, linewidth=2, zorder=2)
            for p in res.suite.published:
                if p.dataset == dataset and p.variant == v.name and m in p.values:
                    ax.scatter(p.values[m] * k, yi, marker="D", s=34, facecolor="white", edgecolor="#111", linewidth=1.1,
                               zorder=4, label="published value (paper, its own protocol)")
        for ref in res.references.get(dataset, []):  # real data and chance, as vertical lines
            if m in ref.metrics:
                real = ref.kind == "real"
                ax.axvline(ref.metrics[m] * k, color="#2b8a3e" if real else "#868e96", linestyle="--" if real else ":",
                           linewidth=1.2, zorder=1, label="real data (same metrics)" if real else "chance")
        of = f" (of {total_modes})" if m == "modes" and total_modes else ""
        ax.set_title(f"{info.label}{' (%)' if info.percent else ''}{of} {'↑' if info.direction == 'max' else '↓'}")
        ax.grid(axis="x", color="#e6e6e6", linewidth=0.8)
        ax.set_axisbelow(True)
        if m == "modes" and total_modes:
            ax.set_xlim(0, total_modes * 1.04)
        elif info.percent:
            ax.set_xlim(0, 104)
        elif ax.get_xlim()[0] < 0 <= min((x for vv in group for x in vv.stats[m].values), default=0):
            ax.set_xlim(0, ax.get_xlim()[1])
    axes[0].set(yticks=y, yticklabels=[v.label for v in group], ylim=(-0.6, len(group) - 0.4))
    fig.tight_layout()
    if legend := {label: h for ax in axes for h, label in zip(*ax.get_legend_handles_labels())}:  # one entry per label
        fig.legend(legend.values(), legend.keys(), loc="upper center", ncol=len(legend), bbox_to_anchor=(0.5, 0.0), fontsize=8)
    return fig


@_png
def loss_figure(res: BenchResults, dataset: str, out: Path) -> Figure | None:
    """D and G loss per logging interval; one panel per variant, one line per seed."""
    group = res.by_dataset()[dataset]
    curves = {v.name: [rows for r in v.runs if (rows := read_metrics(out / r["run_dir"]))] for v in group}
    if not any(curves.values()):
        return None
    ncols = min(4, len(group))
    fig = Figure(figsize=(3.0 * ncols, 2.25 * math.ceil(len(group) / ncols)))
    axes = fig.subplots(math.ceil(len(group) / ncols), ncols, squeeze=False).ravel()
    for ax in axes[len(group):]:
        ax.axis("off")
    for ax, v in zip(axes, group):
        if not curves[v.name]:
            ax.text(0.5, 0.5, "no training log", transform=ax.transAxes, ha="center", va="center", color="#999")
            ax.set(xticks=[], yticks=[])
        for i, rows in enumerate(curves[v.name]):
            for key, color, label in (("loss_d", "#4C72B0", "D"), ("loss_g", "#DD8452", "G")):
                ax.plot([float(r.get("step", math.nan)) for r in rows], [float(r.get(key, math.nan)) for r in rows], color=color,
                        linewidth=1.1, linestyle=["-", "--", ":", "-."][i % 4], alpha=0.85, label=label if i == 0 else None)
        ax.set_title(v.label, fontsize=9)
        ax.grid(color="#eeeeee", linewidth=0.7)
        ax.tick_params(labelsize=7)
        ax.ticklabel_format(axis="x", style="sci", scilimits=(-3, 4))
    axes[0].legend(loc="best", fontsize=7)
    fig.supxlabel("generator step", fontsize=8.5)
    fig.tight_layout()
    return fig


def _real_samples(run_dir: Path, n: int) -> tuple[torch.Tensor, Any]:
    """(up to ``n`` real samples as a float tensor, DataInfo) of the dataset as configured in ``run_dir``."""
    data = run_data(run_dir)
    x = data.tensors[0] if data.tensors is not None else torch.stack([data.dataset[i][0] for i in range(min(n, len(data)))])
    return x[:n].float(), data.info


def real_images_png(run_dir: Path, n: int = 64) -> bytes:
    """A grid of ``n`` real images of the dataset as configured in ``run_dir``, to compare with the generated ones."""
    return grid_png(_real_samples(run_dir, n)[0], nrow=8)


@_png
def samples_2d_figure(res: BenchResults, dataset: str, out: Path, *, max_seeds: int = 5) -> Figure | None:
    """Generated samples (coloured: high quality; grey: not) over real samples (light), variants × seeds."""
    group, colors = res.by_dataset()[dataset], variant_colors(res)
    panels = [[(r, np.load(path) if r["status"] == "completed" and (path := out / r["run_dir"] / SAMPLES_FILE).exists() else None)
               for r in v.runs[:max_seeds]] for v in group]
    if (any_run := next((out / r["run_dir"] for row in panels for r, pts in row if pts is not None), None)) is None:
        return None
    x, info = _real_samples(any_run, 4000)
    real, centres, std = x.numpy(), np.array(info.mode_centres, dtype=float) if info.mode_centres else None, info.mode_std
    lo, hi = (real if centres is None else centres).min(axis=0), (real if centres is None else centres).max(axis=0)
    pad, ncols = 0.18 * float(max(hi - lo)), max(len(row) for row in panels)
    size = max(1.75, min(2.5, 7.5 / ncols))
    fig = Figure(figsize=(size * ncols + 0.9, size * len(panels) + 0.2))
    axes = fig.subplots(len(panels), ncols, squeeze=False)
    for ri, (v, row) in enumerate(zip(group, panels)):
        for ci, ax in enumerate(axes[ri]):
            ax.set(xticks=[], yticks=[], xlim=(lo[0] - pad, hi[0] + pad), ylim=(lo[1] - pad, hi[1] + pad), aspect="equal")
            ax.spines[:].set_visible(True)
            ax.spines[:].set_edgecolor("#cccccc")
            if ci == 0:
                ax.set_ylabel(v.label, fontsize=8.5, rotation=0, ha="right", va="center", labelpad=6)
            if ci >= len(row):
                ax.axis("off")
                continue
            (r, found), bits = row[ci], [f"seed {row[ci][0]['seed']}"]
            pts = np.empty((0, 2)) if found is None else found[np.isfinite(found).all(axis=1)]
            hq = (nearest_mode(torch.from_numpy(pts).double(), torch.from_numpy(centres), std)[1].numpy()  # the HQ rule
                  if centres is not None and std and len(pts) else None)
            draw_points(ax, pts, real=real, centres=centres, high_quality=hq, color=colors[v.name], size=2.0)
            if found is None:
                pending = r["status"] == "missing"
                ax.text(0.5, 0.5, "not run yet" if pending else r["status"], transform=ax.transAxes, ha="center",
                        va="center", color="#8a94a6" if pending else "#c44e52", fontsize=8)
            if centres is not None and (modes := r["metrics"].get("modes")) is not None:
                bits.append(f"{modes:.0f}/{len(centres)}")
            if (quality := r["metrics"].get("high_quality")) is not None:
                bits.append(f"HQ {quality * 100:.0f}%")
            ax.set_title(" · ".join(bits), fontsize=7.5, fontweight="normal")
    fig.tight_layout(pad=0.4, w_pad=0.3, h_pad=0.6)
    return fig


@_png
def throughput_figure(res: BenchResults) -> Figure | None:
    """Training wall time per run for every variant (mean ± std), all datasets together."""
    if not (vs := [(v, x) for v in res.variants if (x := v.mean("wall_time")) is not None]):
        return None
    colors, y = variant_colors(res), np.arange(len(vs))[::-1]
    fig = Figure(figsize=(6.5, 0.32 * len(vs) + 1.0))
    ax = fig.subplots()
    for yi, (v, x) in zip(y, vs):
        ax.barh(yi, x, height=0.6, color=colors[v.name], alpha=0.7, xerr=v.stats["wall_time"].std or 0, ecolor="#333", capsize=2)
    ax.set(yticks=y, yticklabels=[v.name for v, _ in vs], xlabel="training wall time per run (s)")
    ax.grid(axis="x", color="#e6e6e6")
    ax.set_axisbelow(True)
    fig.tight_layout()
    return fig
