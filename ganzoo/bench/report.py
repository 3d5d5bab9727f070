"""The bench report: ``report.md`` (figures as files under ``figures/``) and a self-contained
``report.html`` (figures embedded as base64 data URIs, inline CSS, no scripts)."""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ganzoo.bench.progress import fmt_duration
from ganzoo.bench.results import BenchResults, Stat, VariantResult
from ganzoo.bench.suite import PublishedRow, metric_info


@dataclass
class Figure:
    key: str  # file name stem under figures/
    title: str
    caption: str
    png: bytes
    section: str  # metrics | samples | losses | speed
    dataset: str | None = None


# ----------------------------------------------------------------------------- number formatting


def fmt_value(metric: str, v: float | None) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    base = metric.split("[", 1)[0]
    if metric_info(metric).percent:
        return f"{v * 100:.1f}"
    if base == "modes":
        return f"{v:.1f}" if abs(v - round(v)) > 1e-9 else f"{v:.0f}"
    if base in ("fid", "wall_time"):
        return f"{v:.1f}"
    if base == "img_per_s":
        return f"{v / 1000:.1f}k" if v >= 10_000 else f"{v:.0f}"
    if base in ("reverse_kl", "kl", "kid"):
        return f"{v:.3f}"
    return f"{v:.3g}"


def fmt_stat(metric: str, s: Stat | None) -> str:
    if s is None or s.mean is None:
        return "–"
    text = fmt_value(metric, s.mean)
    if s.std is not None:
        text += f" ± {fmt_value(metric, s.std)}"
    return text


def metric_header(metric: str) -> str:
    info = metric_info(metric)
    arrow = "↑" if info.direction == "max" else "↓"
    return f"{info.label}{' %' if info.percent else ''} {arrow}"


def _best(group: Sequence[VariantResult], metric: str) -> float | None:
    vals = [v.stats[metric].mean for v in group if metric in v.stats and v.stats[metric].mean is not None]
    if not vals:
        return None
    return max(vals) if metric_info(metric).direction == "max" else min(vals)


def short_name(name: str, dataset: str) -> str:
    """``ring8-gan`` -> ``gan`` inside the ring8 table."""
    prefix = f"{dataset}-"
    return name[len(prefix):] if name.startswith(prefix) and len(name) > len(prefix) else name


def _references(pubs: Sequence[PublishedRow], every: Sequence[PublishedRow] = ()) -> tuple[list[int], list[str]]:
    """Reference number of each published row (one per source) and the note text of each reference
    (gathered from every published row of the suite with that source)."""
    order: dict[str, int] = {}
    notes: dict[str, list[str]] = {}
    numbers = []
    for p in pubs:
        if p.source not in order:
            order[p.source] = len(order) + 1
            notes[p.source] = []
        numbers.append(order[p.source])
    for p in [*pubs, *every]:
        if p.source not in notes:
            continue
        extra = [p.protocol] if p.protocol else []
        if p.errors:
            extra.append("± is " + ("standard error" if p.error_kind == "se" else "std"))
        if p.note:
            extra.append(p.note)
        for e in extra:
            if e not in notes[p.source]:
                notes[p.source].append(e)
    texts = [f"{src}" + (": " + "; ".join(notes[src]) if notes[src] else "") for src in order]
    return numbers, texts


def _published_cell(metric: str, p: PublishedRow) -> str:
    if metric not in p.values:
        return "–"
    text = fmt_value(metric, p.values[metric])
    if metric in p.errors:
        text += f" ± {fmt_value(metric, p.errors[metric])}"
    return text


# ----------------------------------------------------------------------------- shared content


def _highlights(res: BenchResults) -> list[str]:
    """One plain-text sentence per dataset: the best variant and how it compares with the baseline."""
    out = []
    p = res.suite.primary_metric
    for dataset, group in res.by_dataset().items():
        ranked = [v for v in group if v.rank is not None]
        if not ranked:
            continue
        best = ranked[0]
        metrics = res.metrics_of(dataset)
        vals = ", ".join(f"{metric_info(m).label} {fmt_stat(m, best.stats.get(m))}{'%' if metric_info(m).percent else ''}"
                         for m in metrics[:3])
        ties = [v.label for v in ranked[1:] if v.stats[p].mean == best.stats[p].mean]
        tie = f" (tied on {metric_info(p).label} with {', '.join(ties)})" if ties else ""
        worst = ranked[-1] if len(ranked) > 1 else None
        tail = f"; last: {worst.label} ({metric_info(p).label} {fmt_stat(p, worst.stats[p])})" if worst else ""
        out.append(f"{dataset}: best {best.label}{tie}: {vals}{tail}.")
    return out


def _g(v: Any) -> str:
    return f"{v:g}" if isinstance(v, (int, float)) else str(v)


def _protocol_rows(protocol: Mapping[str, Any]) -> list[tuple[str, str, str, str, str, str, str]]:
    rows = []
    for v in protocol.get("variants", []):
        cfg = v.get("config", {})
        run, train = cfg.get("run", {}), cfg.get("train", {})
        opts = []
        for section in ("arch", "loss"):
            for k, val in (cfg.get(section) or {}).items():
                if f"{section}.{k}" in v.get("set", {}):
                    opts.append(f"{section}.{k}={val}")
        for name, mo in (cfg.get("mitigation") or {}).items():
            opts += [f"{name}.{k}={val}" for k, val in mo.items()]
        rows.append((
            v["name"], f"{run.get('steps', 0):,}", str(run.get("batch_size", "")),
            f"{_g(train.get('lr_g'))} / {_g(train.get('lr_d'))}", "(" + ", ".join(_g(b) for b in train.get("betas", [])) + ")",
            str(train.get("n_critic", "")), ", ".join(opts) or "–",
        ))
    return rows


# ----------------------------------------------------------------------------- markdown


def _md_table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> str:
    def esc(c: str) -> str:
        return str(c).replace("|", "\\|").replace("\n", " ")

    align = align or ["l"] * len(header)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(esc(h) for h in header) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _pending_text(meta: Mapping[str, Any]) -> str:
    n = meta.get("pending") or 0
    return f", {n} not run yet (rerun without --variants to complete the suite)" if n else ""


def render_markdown(res: BenchResults, figures: Sequence[Figure], meta: Mapping[str, Any]) -> str:
    s = res.suite
    out = [f"# ganzoo bench: {s.name}", "", s.description, ""]
    out += [f"- **Generated**: {meta['generated']} · ganzoo {meta['version']} · {meta['device']}",
            f"- **Runs**: {meta['completed']}/{meta['total']} completed, {meta['failed']} failed{_pending_text(meta)} · seeds: {meta['seeds']} · "
            f"bench wall time: {meta['wall']} · run time (sum over runs): {meta.get('compute', '–')}",
            f"- **Ranked by**: {metric_info(s.primary_metric).label} ({'higher' if s.primary_direction == 'max' else 'lower'} is better), "
            "mean ± sample std over seeds", ""]
    hl = _highlights(res)
    if hl:
        out += ["## Highlights", ""] + [f"- {h}" for h in hl] + [""]
    out += ["## Summary", ""]
    for dataset, group in res.by_dataset().items():
        metrics = res.metrics_of(dataset)
        header = ["#", "variant", "components", *[metric_header(m) for m in metrics], "seeds ok", "train time", "img/s"]
        rows = []
        for v in group:
            best = {m: _best(group, m) for m in metrics}
            cells = []
            for m in metrics:
                c = fmt_stat(m, v.stats.get(m))
                if best[m] is not None and v.stats[m].mean == best[m]:
                    c = f"**{c}**"
                cells.append(c)
            rows.append([str(v.rank or "–"), v.label, v.components, *cells, f"{v.completed}/{len(v.runs)}",
                         fmt_duration(v.stats["wall_time"].mean), fmt_value("img_per_s", v.stats["img_per_s"].mean)])
        pubs = [p for p in s.published if p.dataset == dataset]
        refs, ref_texts = _references(pubs, s.published)
        for ref, p in zip(refs, pubs):
            rows.append(["", f"*{p.model}* (published)", f"*{p.source}* [{ref}]" + (f", cf. {short_name(p.variant, p.dataset)}" if p.variant else ""),
                         *[_published_cell(m, p) for m in metrics], "", "", ""])
        out += [f"### {dataset}", "", _md_table(header, rows, ["r", "l", "l", *["r"] * len(metrics), "r", "r", "r"]), ""]
        if pubs:
            out += ["Published rows were **not run here**; their protocols differ from ours:", ""]
            out += [f"{i + 1}. {t}" for i, t in enumerate(ref_texts)]
            out.append("")
    for section, title in (("metrics", "Metrics per variant"), ("samples", "Samples"), ("losses", "Loss curves"), ("speed", "Speed")):
        figs = [f for f in figures if f.section == section]
        if not figs:
            continue
        out += [f"## {title}", ""]
        for f in figs:
            out += [f"![{f.title}](figures/{f.key}.png)", "", f"*{f.caption}*", ""]
    if res.failures:
        out += ["## Failures", "", _md_table(["variant", "seed", "error", "log"],
                [[r["variant"], str(r["seed"]), r["error"] or "", f"{r['run_dir']}/bench.log"] for r in res.failures]), ""]
    if meta.get("figure_problems"):
        out += ["## Figures not drawn", ""] + [f"- {t}" for t in meta["figure_problems"]] + [""]
    out += ["## Protocol", ""]
    if s.protocol:
        out += [s.protocol.strip(), ""]
    out += [f"Evaluation: {meta['eval_protocol']}", ""]
    out += [_md_table(["variant", "steps", "batch", "lr G / D", "betas", "n_critic", "options"], _protocol_rows(res.protocol)), ""]
    out += ["## All runs", "", _run_table_md(res), "",
            f"Reproduce: `{meta['command']}` · files: `results.json`, `results.csv`, `protocol.json`, `suite.toml`, `runs/`", ""]
    return "\n".join(out)


def _run_table_md(res: BenchResults) -> str:
    metrics = list(dict.fromkeys(m for v in res.variants for m in v.metrics))
    rows = []
    for r in res.runs:
        rows.append([r["variant"], str(r["seed"]), r["status"], *[fmt_value(m, r["metrics"].get(m)) for m in metrics],
                     fmt_duration(r["wall_time"]), fmt_value("img_per_s", r["img_per_s"]), r["run_dir"]])
    return _md_table(["variant", "seed", "status", *[metric_header(m) for m in metrics], "train time", "img/s", "run dir"], rows)


# ----------------------------------------------------------------------------- html

CSS = """
:root { --fg:#1f2430; --muted:#667085; --line:#e4e7ec; --bg:#f7f8fa; --accent:#3b5bdb; --good:#e7f5ec; --bad:#fdecec; }
* { box-sizing: border-box; }
body { margin:0; font: 14.5px/1.55 -apple-system, "Segoe UI", Roboto, "Helvetica Neue", "DejaVu Sans", Arial, sans-serif;
       color:var(--fg); background:var(--bg); }
main { max-width: 1120px; margin: 0 auto; padding: 28px 32px 60px; background:#fff; min-height:100vh;
       box-shadow: 0 0 0 1px var(--line); }
header h1 { font-size: 26px; margin: 0 0 4px; letter-spacing: -0.01em; }
header h1 .suite { color: var(--accent); }
header p.desc { margin: 0 0 14px; color: #3d4455; font-size: 15px; }
.chips { display:flex; flex-wrap:wrap; gap:8px; margin: 0 0 8px; }
.chip { background: var(--bg); border:1px solid var(--line); border-radius: 999px; padding: 3px 11px; font-size: 12.5px; color:#344054; }
.chip b { font-weight:600; }
.chip.ok { background: var(--good); border-color:#b7e4c7; }
.chip.bad { background: var(--bad); border-color:#f5c2c2; color:#9b1c1c; }
nav { margin: 14px 0 6px; font-size: 13px; color: var(--muted); }
nav a { color: var(--accent); text-decoration:none; margin-right: 14px; }
h2 { font-size: 19px; margin: 34px 0 10px; padding-bottom: 6px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15.5px; margin: 22px 0 8px; }
h3 .sub { color: var(--muted); font-weight: normal; font-size: 13px; margin-left: 6px; }
.highlights { background: #f4f6fe; border: 1px solid #dbe2fb; border-radius: 8px; padding: 10px 16px; margin: 14px 0 0; }
.highlights li { margin: 3px 0; }
table { border-collapse: collapse; width: 100%; font-size: 13.2px; font-variant-numeric: tabular-nums; }
th, td { padding: 6px 9px; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
th { font-weight: 600; color:#344054; background: #f9fafb; border-bottom: 1.5px solid #d0d5dd; white-space: nowrap; }
td.num, th.num { text-align: right; white-space: nowrap; }
tbody tr:hover td { background: #fafbff; }
td.nowrap { white-space: nowrap; }
td.opts { font-size: 12px; color: #475467; }
td.rank { color: var(--muted); width: 28px; text-align: right; }
td.variant { font-weight: 600; white-space: nowrap; }
td.comp { color: #475467; font-size: 12.5px; }
td.best { font-weight: 700; color: #0b6b3a; }
.swatch { display:inline-block; width:10px; height:10px; border-radius: 2px; margin-right: 7px; vertical-align: baseline; }
tr.pubhead td { background: #fbf8ef; color:#7a5d00; font-size: 12px; font-weight:600; letter-spacing: .02em; text-transform: uppercase; padding-top: 8px; }
tr.pub td { background: #fffdf5; color: #5b4a14; font-style: italic; }
tr.pub td.num { font-style: normal; }
tr.fail td { color: #9b1c1c; }
tr.pending td { color: #8a94a6; font-style: italic; }
sup.ref { font-size: 10px; color: #7a5d00; font-style: normal; }
.notes { font-size: 12.5px; color: var(--muted); margin: 6px 0 0; }
.notes ol { margin: 4px 0 0 18px; padding: 0; }
figure { margin: 18px 0 24px; text-align: center; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; background: #fff; }
figcaption { font-size: 12.8px; color: var(--muted); margin: 6px auto 0; max-width: 900px; text-align: left; }
figcaption b { color: var(--fg); }
.gallery { display:grid; grid-template-columns: repeat(auto-fill, minmax(230px, 1fr)); gap: 14px; }
.gallery figure { margin: 0; }
.gallery img { width: 100%; image-rendering: pixelated; }
.protocol { background: var(--bg); border: 1px solid var(--line); border-radius: 8px; padding: 10px 16px; font-size: 13.2px; white-space: pre-wrap; }
details { margin: 10px 0; }
details summary { cursor: pointer; color: var(--accent); font-weight: 600; font-size: 13.5px; }
code { font-family: "SFMono-Regular", Menlo, Consolas, "DejaVu Sans Mono", monospace; font-size: 12.5px; background: #f2f4f7;
       padding: 1px 5px; border-radius: 4px; }
.err { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; white-space: pre-wrap; word-break: break-word; }
footer { margin-top: 40px; font-size: 12.5px; color: var(--muted); border-top: 1px solid var(--line); padding-top: 10px; }
"""


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _img(png: bytes, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _summary_table_html(res: BenchResults, dataset: str, group: Sequence[VariantResult], colors: Mapping[str, str]) -> str:
    s = res.suite
    metrics = res.metrics_of(dataset)
    best = {m: _best(group, m) for m in metrics}
    head = ('<tr><th class="num">#</th><th>variant</th><th>components</th>'
            + "".join(f'<th class="num" title="{_e(m)}">{_e(metric_header(m))}</th>' for m in metrics)
            + '<th class="num">seeds ok</th><th class="num">train time</th><th class="num">img/s</th></tr>')
    body = []
    for v in group:
        cells = []
        for m in metrics:
            st = v.stats.get(m)
            cls = "num best" if best[m] is not None and st is not None and st.mean == best[m] and len(group) > 1 else "num"
            title = ", ".join(fmt_value(m, x) for x in st.values) if st and st.values else ""
            cells.append(f'<td class="{cls}" title="per seed: {_e(title)}">{_e(fmt_stat(m, st))}</td>')
        ok = f"{v.completed}/{len(v.runs)}"
        pending = all(r["status"] == "missing" for r in v.runs)
        fail = (' class="pending" title="not run yet"' if pending else ' class="fail"') if v.completed == 0 else ""
        body.append(
            f"<tr{fail}><td class=\"rank\">{v.rank or '–'}</td>"
            f'<td class="variant" title="{_e(v.name)}"><span class="swatch" style="background:{colors[v.name]}"></span>{_e(v.label)}</td>'
            f'<td class="comp">{_e(v.components)}</td>' + "".join(cells)
            + f'<td class="num">{ok}</td><td class="num">{fmt_duration(v.stats["wall_time"].mean)}</td>'
            f'<td class="num">{fmt_value("img_per_s", v.stats["img_per_s"].mean)}</td></tr>'
        )
    pubs = [p for p in s.published if p.dataset == dataset]
    refs, ref_texts = _references(pubs, s.published)
    if pubs:
        body.append(f'<tr class="pubhead"><td></td><td colspan="{len(metrics) + 5}">Published results, not run here '
                    f'(other networks and schedules; see notes)</td></tr>')
        for ref, p in zip(refs, pubs):
            cf = f" · cf. {short_name(p.variant, p.dataset)}" if p.variant else ""
            body.append(
                f'<tr class="pub"><td class="rank"></td><td>{_e(p.model)} <sup class="ref">[{ref}]</sup></td>'
                f'<td class="comp">{_e(p.source)}{_e(cf)}</td>'
                + "".join(f'<td class="num">{_e(_published_cell(m, p))}</td>' for m in metrics)
                + '<td></td><td></td><td></td></tr>'
            )
    notes = ""
    if pubs:
        items = "".join(f"<li>{_e(t)}</li>" for t in ref_texts)
        notes = f'<div class="notes">Published rows:<ol>{items}</ol></div>'
    return f"<table><thead>{head}</thead><tbody>{''.join(body)}</tbody></table>{notes}"


def _runs_table_html(res: BenchResults) -> str:
    metrics = list(dict.fromkeys(m for v in res.variants for m in v.metrics))
    head = ("<tr><th>variant</th><th class=\"num\">seed</th><th>status</th>"
            + "".join(f'<th class="num">{_e(metric_header(m))}</th>' for m in metrics)
            + '<th class="num">train time</th><th class="num">img/s</th><th>run dir</th></tr>')
    rows = []
    for r in res.runs:
        cls = ' class="fail"' if r["status"] != "completed" else ""
        rows.append(
            f"<tr{cls}><td>{_e(r['variant'])}</td><td class=\"num\">{r['seed']}</td><td>{_e(r['status'])}</td>"
            + "".join(f'<td class="num">{_e(fmt_value(m, r["metrics"].get(m)))}</td>' for m in metrics)
            + f'<td class="num">{fmt_duration(r["wall_time"])}</td><td class="num">{fmt_value("img_per_s", r["img_per_s"])}</td>'
            f"<td><code>{_e(r['run_dir'])}</code></td></tr>"
        )
    return f"<table><thead>{head}</thead><tbody>{''.join(rows)}</tbody></table>"


def render_html(res: BenchResults, figures: Sequence[Figure], meta: Mapping[str, Any], colors: Mapping[str, str],
                galleries: Mapping[str, list[tuple[str, str, bytes]]] | None = None) -> str:
    """The whole report as one HTML document. ``galleries``: dataset -> [(variant, caption, png)] image samples."""
    s = res.suite
    galleries = galleries or {}
    failed = meta["failed"]
    chips = [
        f'<span class="chip"><b>{meta["completed"]}/{meta["total"]}</b> runs completed</span>',
        f'<span class="chip {"bad" if failed else "ok"}"><b>{failed}</b> failed</span>',
        *([f'<span class="chip bad"><b>{meta["pending"]}</b> not run yet</span>'] if meta.get("pending") else []),
        f'<span class="chip">{len(s.variants)} variants × {meta["n_seeds"]} seeds</span>',
        f'<span class="chip">wall time <b>{_e(meta["wall"])}</b></span>',
        f'<span class="chip" title="sum of every run\'s training and evaluation time">run time Σ <b>{_e(meta.get("compute", "–"))}</b></span>',
        f'<span class="chip">{_e(meta["device"])}</span>',
        f'<span class="chip">ganzoo {_e(meta["version"])}</span>',
        f'<span class="chip">{_e(meta["generated"])}</span>',
    ]
    nav = ['<a href="#summary">Summary</a>']
    sections = {f.section for f in figures} | ({"samples"} if galleries else set())
    for key, title in (("metrics", "Metrics"), ("samples", "Samples"), ("losses", "Loss curves"), ("speed", "Speed")):
        if key in sections:
            nav.append(f'<a href="#{key}">{title}</a>')
    if res.failures:
        nav.append('<a href="#failures">Failures</a>')
    nav += ['<a href="#protocol">Protocol</a>', '<a href="#runs">All runs</a>']
    parts = [
        "<!DOCTYPE html><html lang=\"en\"><head><meta charset=\"utf-8\">",
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><title>ganzoo bench: {_e(s.name)}</title>",
        f"<style>{CSS}</style></head><body><main>",
        f'<header><h1>ganzoo bench · <span class="suite">{_e(s.name)}</span></h1><p class="desc">{_e(s.description)}</p>',
        f'<div class="chips">{"".join(chips)}</div><nav>{"".join(nav)}</nav></header>',
    ]
    hl = _highlights(res)
    if hl:
        parts.append('<div class="highlights"><b>Highlights</b><ul>' + "".join(f"<li>{_e(h)}</li>" for h in hl) + "</ul></div>")
    direction = "higher" if s.primary_direction == "max" else "lower"
    parts.append(f'<h2 id="summary">Summary</h2><p class="notes">Ranked by <b>{_e(metric_info(s.primary_metric).label)}</b> '
                 f"({direction} is better), ties broken by the next columns. Values are the mean ± sample standard deviation "
                 "over seeds; hover a cell for the per-seed values. Bold green: best in the column.</p>")
    for dataset, group in res.by_dataset().items():
        parts.append(f'<h3>{_e(dataset)}<span class="sub">{len(group)} variants</span></h3>')
        parts.append(_summary_table_html(res, dataset, group, colors))
    titles = {"metrics": "Metrics per variant", "samples": "Samples", "losses": "Loss curves", "speed": "Speed"}
    for section in ("metrics", "samples", "losses", "speed"):
        figs = [f for f in figures if f.section == section]
        if not figs and not (section == "samples" and galleries):
            continue
        parts.append(f'<h2 id="{section}">{titles[section]}</h2>')
        for f in figs:
            parts.append(f"<figure>{_img(f.png, f.title)}<figcaption><b>{_e(f.title)}.</b> {_e(f.caption)}</figcaption></figure>")
        if section == "samples":
            for dataset, items in galleries.items():
                parts.append(f"<h3>{_e(dataset)}</h3><div class=\"gallery\">")
                for variant, caption, png in items:
                    parts.append(f"<figure>{_img(png, variant)}<figcaption><b>{_e(variant)}</b> {_e(caption)}</figcaption></figure>")
                parts.append("</div><p class=\"notes\">Samples of the final generator (the ones evaluated), seed shown in the caption.</p>")
    if res.failures:
        rows = "".join(
            f"<tr class=\"fail\"><td>{_e(r['variant'])}</td><td class=\"num\">{r['seed']}</td><td>{_e(r['error_type'] or '')}</td>"
            f"<td class=\"err\">{_e(r['error'] or '')}</td><td><code>{_e(r['run_dir'])}/bench.log</code></td></tr>"
            for r in res.failures
        )
        parts.append('<h2 id="failures">Failures</h2><p class="notes">These runs failed; the others are unaffected. '
                     "Rerunning the same command retries them (from their last checkpoint when there is one).</p>"
                     f"<table><thead><tr><th>variant</th><th class=\"num\">seed</th><th>type</th><th>error</th><th>log</th></tr>"
                     f"</thead><tbody>{rows}</tbody></table>")
    if meta.get("figure_problems"):
        parts.append('<h2 id="figure-problems">Figures not drawn</h2><p class="notes">Drawing these figures failed; '
                     "the tables and the other figures are complete.</p><ul>"
                     + "".join(f"<li><code>{_e(t)}</code></li>" for t in meta["figure_problems"]) + "</ul>")
    prow = "".join(
        "<tr>" + "".join(f'<td class="{"num" if i in (1, 2, 5) else "nowrap" if i < 5 else "opts"}">{_e(c)}</td>'
                         for i, c in enumerate(r)) + "</tr>"
        for r in _protocol_rows(res.protocol)
    )
    parts.append('<h2 id="protocol">Protocol</h2>')
    if s.protocol:
        parts.append(f'<div class="protocol">{_e(s.protocol.strip())}</div>')
    parts.append(f'<p class="notes">Evaluation: {_e(meta["eval_protocol"])}</p>')
    parts.append("<table><thead><tr><th>variant</th><th class=\"num\">steps</th><th class=\"num\">batch</th><th>lr G / D</th>"
                 f"<th>Adam betas</th><th class=\"num\">n_critic</th><th>options</th></tr></thead><tbody>{prow}</tbody></table>")
    parts.append('<p class="notes">The fully resolved configuration of every run is in <code>runs/&lt;variant&gt;/seed-&lt;k&gt;/config.toml'
                 "</code>; the suite and protocol in <code>suite.toml</code> and <code>protocol.json</code>.</p>")
    parts.append(f'<h2 id="runs">All runs</h2><details><summary>{len(res.runs)} runs (per-seed values)</summary>'
                 f"{_runs_table_html(res)}</details>")
    parts.append(f"<footer>Reproduce: <code>{_e(meta['command'])}</code> (finished runs are skipped). "
                 "Data: <code>results.json</code>, <code>results.csv</code>. Generated by ganzoo "
                 f"{_e(meta['version'])} on {_e(meta['generated'])}.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts)


def now_text() -> str:
    return _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
