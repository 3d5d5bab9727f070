"""The bench report: one data model (:func:`report_model`) rendered by the Jinja2 templates ``report.md.j2`` (figures
as files under ``figures/``) and ``report.html.j2`` (self-contained: figures as data URIs, no scripts)."""

from __future__ import annotations

import base64
import datetime
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from ganzoo import __version__
from ganzoo.bench import plots
from ganzoo.bench.evaluation import GRID_FILE
from ganzoo.bench.results import BenchResults, VariantResult, add_references, write_results
from ganzoo.errors import one_line
from ganzoo.files import write_bytes, write_text
from ganzoo.metrics.catalogue import value_info as metric_info
from ganzoo.stats import CI_METHOD, TEST_METHOD, Stat, p_text

SECTIONS = {"metrics": "Metrics per variant", "samples": "Samples", "losses": "Loss curves", "speed": "Speed"}
GALLERY_FILE = "samples-{}-{}.png"  # under figures/: a dataset's gallery image by index (the Markdown report links it)


@dataclass
class Figure:
    key: str  # file name stem under figures/
    title: str
    png: bytes
    section: str  # one of SECTIONS; its caption is in templates/text.j2
    facts: dict[str, Any]  # what the caption says of it


def fmt_duration(seconds: float | None) -> str:
    """``1h02m``, ``3m40s`` or ``12s``."""
    if seconds is None or seconds != seconds:
        return "–"
    s = int(round(max(0.0, seconds)))
    return f"{s // 3600}h{(s % 3600) // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"


def fmt_value(metric: str, v: float | None) -> str:
    if not isinstance(v, (int, float)) or not math.isfinite(v):
        return "–"
    return metric_info(metric).number(v)


def fmt_ci(metric: str, s: Stat | None) -> str:
    """``mean [low, high]`` (the 95 % confidence interval of the mean), or ``value (n = 1)``."""
    return s.text(lambda v: fmt_value(metric, v)) if s is not None else "–"


def metric_header(metric: str) -> str:
    info = metric_info(metric)
    return f"{info.label}{' %' if info.percent else ''} {'↑' if info.direction == 'max' else '↓'}"


def _highlight(res: BenchResults, dataset: str, group: Sequence[VariantResult]) -> str | None:
    """The best variant of a dataset where it is distinguishable from the runner-up at 95 %, else that no variant is
    distinguishable from the top one; then the last one."""
    ranked, p, c = [v for v in group if v.rank is not None], res.suite.primary_metric, res.compare(dataset)
    if not ranked or c is None:
        return None
    by_name, label = {v.name: v for v in group}, metric_info(p).label
    best = by_name[c.best]
    vals = ", ".join(f"{metric_info(m).label} {fmt_ci(m, best.stats.get(m))}{'%' if metric_info(m).percent else ''}"
                     for m in res.metrics_of(dataset)[:3])
    tail = f"; last: {ranked[-1].label} ({label} {fmt_ci(p, ranked[-1].stats[p])})" if len(ranked) > 2 else ""
    if c.runner_up is None:
        return f"{dataset}: only {best.label} has a result: {vals}."
    second = by_name[c.runner_up].label
    if c.significant:
        return (f"{dataset}: best {best.label}: {vals}; distinguishable from the runner-up {second} on {label} at 95 % "
                f"(Welch's t-test {p_text(c.p)}){tail}.")
    return (f"{dataset}: no variant is distinguishable from {best.label} at 95 % on {label} (runner-up {second}: "
            f"{p_text(c.p)}); top by mean: {best.label} ({vals}){tail}.")


def _baseline_highlight(res: BenchResults, dataset: str) -> str | None:
    """Each variant against the dataset's baseline on the first three metrics: difference, and whether it is
    distinguishable at 95 %."""
    metrics = res.metrics_of(dataset)[:3]
    by_metric = {m: res.against_baseline(dataset, m) for m in metrics}
    if not (first := by_metric[metrics[0]] if metrics else []):
        return None
    label = {v.name: v.label for v in res.variants if v.dataset == dataset}
    parts = [f"{label[c.variant]}: " + ", ".join(
        f"{metric_info(m).label} {'+' if x.difference >= 0 else '−'}{fmt_value(m, abs(x.difference))}"
        f"{' points' if metric_info(m).percent else ''} ({p_text(x.p)}, {'' if x.significant else 'not '}distinguishable)"
        for m in metrics for x in by_metric[m] if x.variant == c.variant) for c in first]
    return f"{dataset}, against the baseline {label[first[0].baseline]} at 95 %: " + "; ".join(parts) + "."


def _group(res: BenchResults, dataset: str, group: Sequence[VariantResult], colors: Mapping[str, str]) -> dict[str, Any]:
    metrics, pubs = res.metrics_of(dataset), [p for p in res.suite.published if p.dataset == dataset]
    # a column's best is marked only where it is distinguishable from the column's runner-up
    best = {m: c.best if (c := res.compare(dataset, m)) and c.significant else None for m in metrics}
    rows = [{
        "rank": v.rank or "–", "name": v.name, "label": v.label, "components": v.components, "color": colors[v.name],
        "cells": [{"text": fmt_ci(m, v.stats[m]), "best": best[m] == v.name, "std": fmt_value(m, v.stats[m].std),
                   "seeds": ", ".join(fmt_value(m, x) for x in v.stats[m].values)} for m in metrics],
        "seeds_ok": f"{v.completed}/{len(v.runs)}", "train_time": fmt_duration(v.stats["wall_time"].mean),
        "img_s": fmt_value("img_per_s", v.stats["img_per_s"].mean),
        "state": "" if v.completed else "pending" if all(r["status"] == "missing" for r in v.runs) else "fail",
    } for v in group]
    references = [{"label": r.label, "description": f"not computed: {r.error}" if r.error else r.description,
                   "cells": [fmt_value(m, r.metrics.get(m)) for m in metrics]} for r in res.references.get(dataset, [])]
    # one numbered note per source, gathering what every published row of the suite from that source says of it
    sources = list(dict.fromkeys(p.source for p in pubs))
    notes = {s: list(dict.fromkeys(n for p in [*pubs, *res.suite.published] if p.source == s for n in (
        p.protocol, ("± is " + ("standard error" if p.error_kind == "se" else "std")) if p.errors else "", p.note) if n))
        for s in sources}
    published = [{
        "model": p.model, "ref": sources.index(p.source) + 1, "source": p.source,
        "cf": f"cf. {p.variant.removeprefix(f'{dataset}-') or p.variant}" if p.variant else "",
        "cells": [fmt_value(m, p.values.get(m)) + (f" ± {fmt_value(m, p.errors[m])}" if m in p.errors and m in p.values else "")
                  for m in metrics],
    } for p in pubs]
    return {"dataset": dataset, "headers": [(m, metric_header(m)) for m in metrics], "rows": rows, "references": references,
            "published": published, "notes": [s + (": " + "; ".join(n) if n else "") for s, n in notes.items()]}


def _protocol_rows(protocol: Mapping[str, Any]) -> list[list[str]]:
    """Per variant: steps, batch, learning rates, Adam betas, n_critic and the options it sets."""
    def g(v: Any) -> str:
        return f"{v:g}" if isinstance(v, (int, float)) else str(v)

    rows = []
    for v in protocol.get("variants", []):
        cfg = v.get("config", {})
        run, train = cfg.get("run", {}), cfg.get("train", {})
        opts = [f"{s}.{k}={val}" for s in ("arch", "loss") for k, val in (cfg.get(s) or {}).items()
                if f"{s}.{k}" in v.get("set", {})]
        opts += [f"{name}.{k}={val}" for name, mo in (cfg.get("mitigation") or {}).items() for k, val in mo.items()]
        rows.append([v["name"], f"{run.get('steps', 0):,}", str(run.get("batch_size", "")), f"{g(train.get('lr_g'))} / "
                     f"{g(train.get('lr_d'))}", f"({', '.join(map(g, train.get('betas', [])))})", str(train.get("n_critic", "")),
                     ", ".join(opts) or "–"])
    return rows


def report_model(res: BenchResults, figures: Sequence[Figure], meta: Mapping[str, Any], colors: Mapping[str, str],
                 galleries: Mapping[str, list[tuple[str, str, bytes]]]) -> dict[str, Any]:
    """Everything either report shows, as plain data (strings and numbers), in display order."""
    s, groups = res.suite, res.by_dataset()
    metrics = list(dict.fromkeys(m for v in res.variants for m in v.metrics))
    sections = [{"key": key, "title": title, "figures": [f for f in figures if f.section == key],
                 "galleries": [{"dataset": d, "images": [{"label": label, "caption": caption, "png": png,
                                                          "file": GALLERY_FILE.format(d, i)}
                                                         for i, (label, caption, png) in enumerate(images)]}
                               for d, images in galleries.items()] if key == "samples" else []}
                for key, title in SECTIONS.items()]
    modes: dict[str, Any] = {}
    for r in res.runs:  # how each dataset's modes were counted: the evaluation record of its first run that has one
        if (ev := r.get("eval") or {}).get("modes"):
            modes.setdefault(r["dataset"], {**ev["modes"], "seed": ev.get("seed", 12345)})
    p, runs = res.protocol, res.runs
    return {
        "generated": datetime.datetime.now().strftime("%Y-%m-%d %H:%M"), "version": __version__, "device": p.get("machine", ""),
        "completed": sum(r["status"] == "completed" for r in runs), "total": len(runs), "failed": len(res.failures),
        "pending": sum(r["status"] == "missing" for r in runs), "seeds": ", ".join(map(str, p.get("seeds", []))),
        "n_seeds": len(p.get("seeds", [])), **meta, "suite": s.name, "description": s.description, "n_variants": len(s.variants),
        "compute": fmt_duration(res.run_time), "train_sum": fmt_duration(res.runs_wall_time),
        "ci_method": CI_METHOD, "test_method": TEST_METHOD,
        "primary": metric_info(s.primary_metric).label, "better": "higher" if s.primary_direction == "max" else "lower",
        "highlights": [h for d, g in groups.items() for h in (_highlight(res, d, g), _baseline_highlight(res, d)) if h],
        "groups": [_group(res, d, g, colors) for d, g in groups.items()],
        "sections": [sec for sec in sections if sec["figures"] or sec["galleries"]],
        "failures": [{"variant": r["variant"], "seed": r["seed"], "type": r["error_type"] or "", "error": r["error"] or "",
                      "log": f"{r['run_dir']}/bench.log"} for r in res.failures],
        "protocol_text": s.protocol.strip(), "protocol_rows": _protocol_rows(res.protocol),
        "mode_protocols": modes,
        "run_headers": [metric_header(m) for m in metrics],
        "runs": [{"variant": r["variant"], "seed": r["seed"], "status": r["status"], "run_dir": r["run_dir"],
                  "cells": [fmt_value(m, r["metrics"].get(m)) for m in metrics], "train_time": fmt_duration(r["wall_time"]),
                  "img_s": fmt_value("img_per_s", r["img_per_s"])} for r in res.runs],
    }


def render(template: str, model: Mapping[str, Any]) -> str:
    """``report.md`` or ``report.html`` from :func:`report_model`'s data."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("ganzoo.bench", "templates"), undefined=jinja2.StrictUndefined,
                             autoescape=template.endswith(".html"), trim_blocks=True, lstrip_blocks=True,
                             keep_trailing_newline=True)
    env.filters.update(md=lambda text: str(text).replace("|", "\\|").replace("\n", " "),
                       data_uri=lambda png: "data:image/png;base64," + base64.b64encode(png).decode("ascii"))
    return env.get_template(f"{template}.j2").render(**model)


def gallery(res: BenchResults, out: Path, dataset: str) -> list[tuple[str, str, bytes]]:
    """``(label, caption, png)`` of the sample grid of each variant's first completed run that has one (a conditional
    generator's rows are classes, named in the caption)."""
    items = []
    for v in res.by_dataset()[dataset]:
        if r := next((r for r in v.runs if r["status"] == "completed" and (out / r["run_dir"] / GRID_FILE).exists()), None):
            bits = [f"seed {r['seed']}"] + [f"{metric_info(k).label} {fmt_value(k, x)}" for k, x in list(r["metrics"].items())[:2]
                                            if x is not None]
            if classes := (r.get("eval") or {}).get("grid_classes"):
                bits.append(f"rows are classes: {', '.join(map(str, classes))}")
            items.append((v.label, " · ".join(bits), (out / r["run_dir"] / GRID_FILE).read_bytes()))
    return items


def build_report(res: BenchResults, out: Path, meta: dict[str, Any]) -> Path:
    """Figures, ``report.md`` and ``report.html`` in ``out``; returns the HTML path. A figure that cannot be drawn is
    left out and named in ``meta["figure_problems"]``."""
    figures: list[Figure] = []
    galleries: dict[str, list[tuple[str, str, bytes]]] = {}
    problems: list[str] = meta.setdefault("figure_problems", [])
    add_references(res, out)  # real data and chance, once per dataset (cached in references.json)
    write_results(res, out)  # again, with the reference rows

    def draw(key: str, make: Callable[..., bytes | None], *args: Any) -> bytes | None:
        try:
            return make(*args)
        except Exception as exc:  # a plotting bug must not cost the results of a finished bench
            problems.append(f"{key}: {one_line(exc)}")
            return None

    def add(key: str, title: str, section: str, facts: dict[str, Any], make: Callable[..., bytes | None], *args: Any) -> bool:
        if png := draw(key, make, *args):
            figures.append(Figure(key, title, png, section, facts))
        return png is not None

    for dataset, group in res.by_dataset().items():
        facts = {"published": any(p.dataset == dataset and p.variant for p in res.suite.published),
                 "references": bool(res.references.get(dataset))}
        add(f"metrics-{dataset}", f"{dataset}: metrics per variant", "metrics", facts, plots.metrics_figure, res, dataset)
        if not add(f"samples-{dataset}", f"{dataset}: generated samples", "samples", {}, plots.samples_2d_figure, res, dataset,
                   out) and (items := gallery(res, out, dataset)):
            run_dir = out / next(r for v in group for r in v.runs if (out / r["run_dir"] / GRID_FILE).exists())["run_dir"]
            real = draw(f"real-images-{dataset}", plots.real_images_png, run_dir)
            galleries[dataset] = ([("real data", "training images, for comparison", real)] if real else []) + items
        add(f"losses-{dataset}", f"{dataset}: training losses", "losses", {}, plots.loss_figure, res, dataset, out)
    add("speed", "Training time per run", "speed", {"workers": res.protocol["workers"], "threads": res.protocol["threads_per_worker"]},
        plots.throughput_figure, res)
    files = {f"{f.key}.png": f.png for f in figures} | {GALLERY_FILE.format(d, i): png for d, images in galleries.items()
                                                        for i, (_, _, png) in enumerate(images)}
    (out / "figures").mkdir(parents=True, exist_ok=True)
    for stale in set((out / "figures").glob("*.png")) - {out / "figures" / name for name in files}:  # of an earlier report
        stale.unlink()
    for name, png in files.items():
        write_bytes(out / "figures" / name, png)
    model = report_model(res, figures, meta, plots.variant_colors(res), galleries)
    write_text(out / "report.md", render("report.md", model))
    write_text(out / "report.html", render("report.html", model))
    return out / "report.html"
