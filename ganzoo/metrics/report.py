"""``eval.json`` (atomic, merged per evaluated checkpoint) and the plain-text results table."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ganzoo.files import write_text
from ganzoo.metrics.catalogue import base_name, current_name
from ganzoo.metrics.evaluate import EvalReport
from ganzoo.metrics.real_and_chance import ReferenceRow

__all__ = ["eval_json_path", "write_eval_json", "format_table", "format_value", "format_references"]

EVAL_FILE = "eval.json"


def eval_json_path(target: Path) -> Path:
    """``RUN_DIR/eval.json``, or ``MODEL.eval.json`` beside an ONNX file (never clobbering the run's)."""
    target = Path(target)
    if target.suffix.lower() == ".onnx":
        return target.with_name(f"{target.stem}.{EVAL_FILE}")
    return target / EVAL_FILE


def _same_source(a: dict[str, Any], b: dict[str, Any]) -> bool:
    keys = ("kind", "path", "step", "ema")
    return all(a.get(k) == b.get(k) for k in keys)


def write_eval_json(path: Path, report: EvalReport, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``report`` (and the top-level keys of ``extra``) to ``path`` atomically. Metrics already there for the
    same checkpoint (same step and weights) are kept unless recomputed; a file about another checkpoint is replaced."""
    data = {**report.to_json(), **(extra or {})}
    try:
        old = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        old = None
    if isinstance(old, dict) and old.get("format") == "ganzoo-eval" and _same_source(old.get("source", {}), data["source"]):
        metrics = {**{current_name(k): v for k, v in old.get("metrics", {}).items()}, **data["metrics"]}
        data["metrics"] = metrics
        data["values"] = {k: v.get("value") for k, v in metrics.items()}
    write_text(Path(path), json.dumps(data, indent=2, default=str) + "\n")
    return data


def format_value(value: float, metric: str) -> str:
    if metric == "reverse_kl" and value == float("inf"):
        return "inf (no high-quality samples)"
    if metric == "modes":
        return f"{int(round(value))}"
    if metric in ("kid", "kid_std"):
        return f"{value:.6f}"
    return f"{value:.4f}"


def _reference(proto: dict[str, Any]) -> str:
    ref = proto.get("reference")
    if not ref:
        if proto.get("protocol") == "2d":
            return "2D mixture centres"
        if proto.get("protocol") == "classifier":
            return f"{proto.get('num_modes')} modes"
        return "-"
    return f"{ref.get('name')} ({int(ref.get('num_samples') or 0):,})"


def format_table(report: EvalReport) -> str:
    """A readable, aligned table of the results with their protocol."""
    src = report.source
    head = f"{src.get('kind')} {src.get('path')}"
    if src.get("step") is not None:
        head += f" at step {src['step']}"
    if src.get("ema") is not None:
        head += " (EMA weights)" if src["ema"] else " (raw weights)"
    rows = [("metric", "value", "extractor / protocol", "generated", "reference")]
    for r in report.results:
        p = r.protocol
        rows.append((
            r.key,
            format_value(r.value, r.metric),
            str(p.get("extractor") or p.get("protocol") or "-"),
            f"{int(p.get('num_generated') or 0):,}",
            _reference(p),
        ))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    lines = [f"Evaluated {head} on {src.get('dataset')} in {report.seconds:.1f} s", ""]
    for i, row in enumerate(rows):
        cells = [row[0].ljust(widths[0]), row[1].rjust(widths[1]), *(c.ljust(w) for c, w in zip(row[2:], widths[2:]))]
        lines.append("  ".join(cells).rstrip())
        if i == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def format_references(rows: Sequence[ReferenceRow]) -> str:
    """The real-data and chance rows under the results table: each value, then what the row is."""
    lines = ["Reference rows, scored like the generator (same metrics, sample count and seed):"]
    width = max(len(r.label) for r in rows)
    for r in rows:
        cells = "  ".join(f"{k} {format_value(v, base_name(k))}" for k, v in r.metrics.items())
        lines.append(f"  {r.label.ljust(width)}  {cells or 'not scored'}  ({r.error or r.description})")
    return "\n".join(lines)
