"""Publish a ``ganzoo bench`` output directory into ``benchmarks/RESULTS.md`` and ``docs/images/``.

The section is the bench's own ``report.md`` (summary tables with the published rows, highlights,
figures, protocol), headings demoted one level, with its figures copied to ``docs/images/<suite>/``
and linked from there. It goes between ``<!-- bench:<suite>:start -->`` and ``<!-- bench:<suite>:end -->``
markers (replaced on every publish; added after the title the first time). A suite that is not
complete is published as it stands: the report says which runs are not run yet.

    python benchmarks/publish_bench.py BENCH_OUT [--note FILE.md] [--all-runs] [--results benchmarks/RESULTS.md] [--images docs/images]

``--all-runs`` keeps the report's per-run table (every seed's values); by default it stays in the bench directory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PER_RUN_SECTION = "All runs"  # the per-run table: left out unless --all-runs (it stays in the bench directory)


def _demote(md: str) -> str:
    return re.sub(r"^(#{1,5}) ", lambda m: "#" + m.group(1) + " ", md, flags=re.MULTILINE)


def _drop_sections(md: str, titles: set[str]) -> str:
    out, skipping = [], False
    for line in md.splitlines():
        m = re.match(r"^## (.+)$", line)
        if m:
            skipping = m.group(1).strip() in titles
        if not skipping:
            out.append(line)
    return "\n".join(out).rstrip() + "\n"


def section_text(bench_out: Path, image_dir: Path, results: Path, note: str = "", all_runs: bool = False) -> str:
    """The Markdown section for ``bench_out`` with figure links relative to ``results``."""
    report = (bench_out / "report.md").read_text(encoding="utf-8")
    rel = Path(os.path.relpath(image_dir, results.parent)).as_posix()
    report = re.sub(r"\]\(figures/([^)]+)\)", lambda m: f"]({rel}/{m.group(1)})", report)
    body = report if all_runs else _drop_sections(report, {PER_RUN_SECTION})
    body = _demote(body)
    if note:
        head, sep, rest = body.partition("\n### ")
        body = head.rstrip() + "\n\n" + note.strip() + "\n\n" + sep.lstrip("\n") + rest if sep else body + "\n" + note
    return body


def publish(bench_out: Path, results: Path, note: str = "", images_root: Path = REPO / "docs" / "images",
            all_runs: bool = False) -> tuple[str, Path]:
    """Copy the figures and (re)write the suite's section of ``results``; returns (suite name, image dir)."""
    if not (bench_out / "report.md").is_file() or not (bench_out / "results.json").is_file():
        raise SystemExit(f"{bench_out}: no report.md / results.json (run `ganzoo bench --out {bench_out}` first)")
    suite = json.loads((bench_out / "results.json").read_text(encoding="utf-8"))["suite"]["name"]
    image_dir = images_root / suite
    if image_dir.exists():
        shutil.rmtree(image_dir)
    image_dir.mkdir(parents=True)
    for png in sorted((bench_out / "figures").glob("*.png")):
        shutil.copy2(png, image_dir / png.name)
    start, end = f"<!-- bench:{suite}:start -->", f"<!-- bench:{suite}:end -->"
    block = f"{start}\n{section_text(bench_out, image_dir, results, note, all_runs)}{end}\n"
    text = results.read_text(encoding="utf-8") if results.exists() else "# Benchmark results\n"
    if start in text and end in text:
        rest = text[text.index(end) + len(end):].lstrip("\n")
        text = text[: text.index(start)] + block + ("\n" + rest if rest else "")  # one blank line, as when first added
    else:
        title, _, rest = text.partition("\n")
        text = f"{title}\n\n{block}\n{rest.lstrip()}"
    tmp = results.with_suffix(".md.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(results)
    return suite, image_dir


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("bench_out", type=Path, help="a ganzoo bench --out directory")
    ap.add_argument("--results", type=Path, default=REPO / "benchmarks" / "RESULTS.md")
    ap.add_argument("--images", type=Path, default=REPO / "docs" / "images", help="figures go to IMAGES/<suite>/")
    ap.add_argument("--note", type=Path, help="Markdown inserted after the report's header (deviations, reading notes)")
    ap.add_argument("--all-runs", action="store_true", help="keep the per-run table (every seed's values)")
    args = ap.parse_args(argv)
    note = args.note.read_text(encoding="utf-8") if args.note else ""
    suite, image_dir = publish(args.bench_out.resolve(), args.results.resolve(), note, args.images.resolve(),
                               all_runs=args.all_runs)
    print(f"published {suite}: {args.results} (figures in {image_dir})", file=sys.stderr)


if __name__ == "__main__":
    main()
