"""``ganzoo eval``: FID, IS, KID, precision/recall (torch-fidelity) and mode metrics of a run or an ONNX file."""

from __future__ import annotations

from pathlib import Path

import click

MAX_BATCH_SIZE = 65_536  # as run.batch_size (ganzoo.config imports torch: not at CLI start-up)
MAX_EVAL_SAMPLES = 1_000_000
MAX_NEIGHBORHOOD = 1000


@click.command("eval")
@click.argument("target", metavar="RUN_DIR|MODEL.onnx", type=click.Path(path_type=Path))
@click.option("--metrics", "metrics", default=None,
              help="Comma-separated: fid, isc, kid, prc, modes, cas, ifid, or a plugin's metric (ganzoo list metrics); "
                   "fid[EXTRACTOR] (any FID-like one) scores in that feature space instead of --feature-extractor's "
                   "[default: fid for images, modes for vector data (FID/IS/KID/PRC need images; cas and ifid a "
                   "class-conditional generator)].")
@click.option("--num-samples", type=int, default=None,
              help="Generated samples [default: 10,000 for fid/isc/kid/prc; the mode protocol's count for modes].")
@click.option("--reference", default=None,
              help="Reference images [default: the training dataset]: a dataset NAME or NAME:SPLIT, a torch-fidelity "
                   "input (cifar10-train), or a folder of images.")
@click.option("--num-reference", type=int, default=None, help="At most this many reference images [default: all, up to 50,000].")
@click.option("--feature-extractor", default=None,
              help="inception-v3-compat (default; needs its weights), classifier (ganzoo's domain classifier, offline), "
                   "or another torch-fidelity extractor.")
@click.option("--feature-weights", type=click.Path(path_type=Path), default=None,
              help="Local weights file for the feature extractor (env GANZOO_FEATURE_WEIGHTS).")
@click.option("--seed", type=int, default=0, show_default=True, help="Latent seed (and KID/IS subset seed).")
@click.option("--batch-size", type=int, default=128, show_default=True, help="Batch size for generation and features.")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--data-root", type=click.Path(path_type=Path), default=None, help="Folder with local dataset files.")
@click.option("--no-ema", is_flag=True, help="Score the raw generator even when EMA weights exist.")
@click.option("--prc-neighborhood", type=int, default=3, show_default=True, help="k of the k-NN manifolds of precision/recall.")
@click.option("--real-and-chance", is_flag=True,
              help="Also score real data (training samples) and chance (an untrained generator; 2D data: uniform "
                   "points) the same way: the reference rows of a bench table. RUN_DIR only.")
@click.option("--json", "as_json", is_flag=True, help="Print the eval.json content instead of a table.")
@click.option("--quiet", is_flag=True, help="No progress output.")
def command(
    target: Path, metrics: str | None, num_samples: int | None, reference: str | None, num_reference: int | None,
    feature_extractor: str | None, feature_weights: Path | None, seed: int, batch_size: int, device: str,
    data_root: Path | None, no_ema: bool, prc_neighborhood: int, real_and_chance: bool, as_json: bool, quiet: bool,
) -> None:
    """Score a trained generator (RUN_DIR's newest checkpoint, EMA weights when present) or an exported
    MODEL.onnx; write eval.json and print the results."""
    from ganzoo.cli.common import echo_json
    from ganzoo.engine.device import resolve_device
    from ganzoo.errors import ConfigError
    from ganzoo.files import output_lock
    from ganzoo.metrics.evaluate import evaluate, parse_metrics
    from ganzoo.metrics.real_and_chance import score_references
    from ganzoo.metrics.report import eval_json_path, format_references, format_table, write_eval_json
    from ganzoo.metrics.sources import load_target

    names = parse_metrics(metrics) if metrics is not None else None
    if prc_neighborhood < 1 or prc_neighborhood > MAX_NEIGHBORHOOD:
        raise ConfigError(f"--prc-neighborhood {prc_neighborhood}: expected 1 to {MAX_NEIGHBORHOOD}")
    if num_samples is not None and not 2 <= num_samples <= MAX_EVAL_SAMPLES:
        raise ConfigError(f"--num-samples {num_samples}: expected 2 to {MAX_EVAL_SAMPLES:,} samples")
    if num_reference is not None and not 2 <= num_reference <= MAX_EVAL_SAMPLES:
        raise ConfigError(f"--num-reference {num_reference}: expected 2 to {MAX_EVAL_SAMPLES:,} images")
    if not 1 <= batch_size <= MAX_BATCH_SIZE:
        raise ConfigError(f"--batch-size {batch_size}: expected 1 to {MAX_BATCH_SIZE:,}")
    if real_and_chance and target.suffix.lower() == ".onnx":
        raise ConfigError("--real-and-chance needs a RUN_DIR (its config says how the data and the untrained "
                          f"generator are built), not the ONNX file {str(target)!r}")
    dev = resolve_device(device)
    path = eval_json_path(target)
    with output_lock(path, "eval"):  # eval.json goes into the run directory: one writer at a time
        source = load_target(target, use_ema=not no_ema, device=dev)
        if names is None:
            names = ["fid"] if source.info.kind == "image" else ["modes"]
        report = evaluate(
            source, names, num_samples=num_samples, reference=reference, feature_extractor=feature_extractor,
            feature_weights=feature_weights, seed=seed, batch_size=batch_size, device=dev, data_root=data_root,
            num_reference=num_reference, prc_neighborhood=prc_neighborhood, quiet=quiet or as_json,
        )
        rows = score_references(
            target, [r.key for r in report.results], num_samples=num_samples, seed=seed, device=dev, reference=reference,
            feature_weights=feature_weights, batch_size=batch_size, data_root=data_root, num_reference=num_reference,
            prc_neighborhood=prc_neighborhood) if real_and_chance else []
        data = write_eval_json(path, report, {"references": [vars(r) for r in rows]} if rows else None)
    if as_json:
        echo_json(data)
    else:
        click.echo(format_table(report))
        if rows:
            click.echo("\n" + format_references(rows))
        click.echo(f"\nWrote {path}")
