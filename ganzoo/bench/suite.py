"""Bench suites: the TOML schema, its validation, and the expansion into runs.

A suite file looks like this (every key is listed in :data:`SUITE_KEYS`, :data:`VARIANT_KEYS`
and :data:`PUBLISHED_KEYS`)::

    name = "my-suite"
    description = "ns-gan with and without PacGAN on ring8"
    seeds = 3                      # seeds 0, 1, 2 (or an explicit list: [0, 7, 11])
    steps = 3000                   # per run; a variant may override it
    metrics = ["modes", "high_quality", "reverse_kl"]
    primary_metric = "modes"       # the summary table is ranked by it
    primary_direction = "max"      # optional: known metrics have a default direction
    dataset = "ring8"              # defaults for the variants below (optional)
    arch = "mlp"
    protocol = "free text printed in the report"
    eval_samples = 5000            # optional: samples per evaluation (default: each metric's protocol)
    estimate = "1 min on 2 CPU cores"
    set = { "train.log_every" = 100 }   # dotted config keys applied to every variant

    [[variants]]
    name = "gan"
    loss = "ns-gan"

    [[variants]]
    name = "pacgan2"
    loss = "ns-gan"
    mitigations = ["pacgan"]
    set = { "mitigation.pacgan.pack" = 2 }

    [[published]]                  # optional reference rows printed beside ours
    model = "PacGAN2"
    dataset = "ring8"
    source = "PacGAN Table 1"
    variant = "pacgan2"            # optional: the variant of ours it corresponds to
    values = { modes = 7.9, high_quality = 0.956, reverse_kl = 0.07 }
    errors = { modes = 0.1, reverse_kl = 0.03 }
    error_kind = "se"              # std | se
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ganzoo.config import ALL_SECTIONS, merge, set_dotted
from ganzoo.errors import ConfigError, GanzooError

__all__ = [
    "Suite",
    "Variant",
    "PublishedRow",
    "RunSpec",
    "SuiteError",
    "METRICS",
    "BENCH_DEFAULTS",
    "builtin_suite_names",
    "load_suite",
    "parse_suite",
    "validate_components",
    "expand_runs",
]


class SuiteError(ConfigError):
    """A bad suite file: the message names the file, the entry and the key."""


@dataclass(frozen=True)
class MetricInfo:
    direction: str  # max | min
    label: str
    percent: bool = False


METRICS: dict[str, MetricInfo] = {
    "modes": MetricInfo("max", "modes"),
    "high_quality": MetricInfo("max", "high quality", percent=True),
    "reverse_kl": MetricInfo("min", "reverse KL"),
    "kl": MetricInfo("min", "KL"),
    "fid": MetricInfo("min", "FID"),
    "kid": MetricInfo("min", "KID"),
    "isc": MetricInfo("max", "IS"),
    "precision": MetricInfo("max", "precision"),
    "recall": MetricInfo("max", "recall"),
    "f_score": MetricInfo("max", "F-score"),
    "wall_time": MetricInfo("min", "wall time (s)"),
    "img_per_s": MetricInfo("max", "img/s"),
}
"""Metrics the bench knows how to rank. Names of the form ``fid[EXTRACTOR]`` are FID-like too."""

BENCH_DEFAULTS: dict[str, Any] = {"train": {"tensorboard": False}}
"""Config applied to every bench run below the suite's own ``set`` (TensorBoard is off: the report has the curves)."""

SUITE_KEYS = {
    "name", "description", "seeds", "steps", "metrics", "primary_metric", "primary_direction",
    "dataset", "arch", "loss", "mitigations", "device", "protocol", "estimate", "eval_samples",
    "set", "variants", "published",
}
VARIANT_KEYS = {"name", "description", "dataset", "arch", "loss", "mitigations", "steps", "metrics", "set", "eval_samples"}
PUBLISHED_KEYS = {"model", "dataset", "source", "variant", "protocol", "values", "errors", "error_kind", "note"}
RESERVED_SET_KEYS = {
    "run.seed": "the bench sets the seed of each run (use `seeds`)",
    "run.dataset": "use the variant's `dataset` field",
    "run.arch": "use the variant's `arch` field",
    "run.loss": "use the variant's `loss` field",
    "run.mitigations": "use the variant's `mitigations` field",
    "run.steps": "use `steps`",
    "run.device": "use the suite's `device` or `ganzoo bench --device`",
}
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")
METRIC_RE = re.compile(r"^[a-z][a-z0-9_]*(\[[A-Za-z0-9_.:/-]+\])?$")


def metric_info(name: str) -> MetricInfo:
    """Direction and label of ``name`` (``fid[classifier:shapes]`` behaves like ``fid``)."""
    base = name.split("[", 1)[0]
    info = METRICS.get(base)
    if info is None:
        return MetricInfo("max", name)
    if base != name:
        return MetricInfo(info.direction, f"{info.label} {name[len(base):]}", info.percent)
    return info


@dataclass(frozen=True)
class Variant:
    name: str
    dataset: str
    arch: str
    loss: str
    mitigations: tuple[str, ...] = ()
    steps: int = 1000
    metrics: tuple[str, ...] = ()
    sets: Mapping[str, Any] = field(default_factory=dict)
    description: str = ""
    eval_samples: int | None = None

    @property
    def components(self) -> str:
        """``arch / loss + mitigations``, for tables."""
        mit = " + ".join(self.mitigations)
        return f"{self.arch} · {self.loss}" + (f" + {mit}" if mit else "")


@dataclass(frozen=True)
class PublishedRow:
    model: str
    dataset: str
    source: str
    values: Mapping[str, float]
    errors: Mapping[str, float] = field(default_factory=dict)
    error_kind: str = "std"
    variant: str | None = None
    protocol: str = ""
    note: str = ""


@dataclass
class Suite:
    name: str
    description: str
    seeds: tuple[int, ...]
    variants: list[Variant]
    metrics: tuple[str, ...]
    primary_metric: str
    primary_direction: str
    device: str = "auto"
    protocol: str = ""
    estimate: str = ""
    eval_samples: int | None = None
    sets: Mapping[str, Any] = field(default_factory=dict)
    published: list[PublishedRow] = field(default_factory=list)
    source: str = ""
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(v.dataset for v in self.variants))

    def variant(self, name: str) -> Variant:
        for v in self.variants:
            if v.name == name:
                return v
        raise KeyError(name)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self.raw)


@dataclass(frozen=True)
class RunSpec:
    """One run of the bench: a variant at a seed, with its full user config tree."""

    variant: str
    seed: int
    steps: int
    run_dir: Path
    user: dict[str, Any]
    metrics: tuple[str, ...]
    eval_samples: int | None
    fingerprint: str
    threads: int | None = None  # torch threads for this run (None: the worker's default)

    @property
    def key(self) -> str:
        return f"{self.variant}/seed-{self.seed}"

    @property
    def eval_key(self) -> str:
        """What the evaluation depends on besides the trained generator."""
        return f"{','.join(self.metrics)}|{self.eval_samples or 'protocol'}"


# ----------------------------------------------------------------------------- loading


def _suites_dir() -> Any:
    return resources.files("ganzoo.bench") / "suites"


def builtin_suite_names() -> list[str]:
    """Names of the suites shipped with ganzoo (``quick`` first)."""
    names = sorted(p.name[:-5] for p in _suites_dir().iterdir() if p.name.endswith(".toml"))
    return sorted(names, key=lambda n: (n != "quick", n))


def load_suite(spec: str | Path) -> Suite:
    """A built-in suite by name, or a suite file by path (anything ending in ``.toml``, or an existing path
    that is not a built-in name: ``--suite quick`` stays the built-in suite even where a folder ``quick``
    exists, such as the bench's own output folder)."""
    text_spec = str(spec)
    path = Path(text_spec)
    names = builtin_suite_names()
    if text_spec.endswith(".toml") or (path.exists() and text_spec not in names):
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise SuiteError(f"suite file {text_spec!r} does not exist") from None
        except OSError as exc:
            raise SuiteError(f"cannot read suite file {text_spec!r}: {exc.strerror}") from None
        return parse_suite_text(text, source=text_spec)
    if text_spec not in names:
        import difflib

        close = difflib.get_close_matches(text_spec, names, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise SuiteError(
            f"--suite {text_spec!r}: no built-in suite of that name{hint}; built-in: {', '.join(names)} "
            f"(or pass a path to a FILE.toml)"
        )
    text = (_suites_dir() / f"{text_spec}.toml").read_text(encoding="utf-8")
    return parse_suite_text(text, source=f"built-in suite {text_spec!r}")


def parse_suite_text(text: str, *, source: str) -> Suite:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{source}: not valid TOML: {exc}") from None
    return parse_suite(data, source=source)


# ----------------------------------------------------------------------------- validation helpers


class _Checker:
    """Typed getters that raise :class:`SuiteError` naming ``where`` and the key."""

    def __init__(self, data: Mapping[str, Any], where: str, allowed: set[str]) -> None:
        self.data, self.where = data, where
        unknown = sorted(set(data) - allowed)
        if unknown:
            import difflib

            close = difflib.get_close_matches(unknown[0], sorted(allowed), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise SuiteError(f"{where}: unknown key {unknown[0]!r}{hint}; allowed: {', '.join(sorted(allowed))}")

    def fail(self, key: str, expected: str) -> SuiteError:
        return SuiteError(f"{self.where}: key {key!r}: expected {expected}, got {self.data[key]!r}")

    def str(self, key: str, default: Any = ..., *, required: bool = False) -> Any:
        if key not in self.data:
            if required or default is ...:
                raise SuiteError(f"{self.where}: missing required key {key!r}")
            return default
        v = self.data[key]
        if not isinstance(v, str) or (required and not v.strip()):
            raise self.fail(key, "a non-empty string" if required else "a string")
        return v

    def int(self, key: str, default: Any = ..., minimum: int = 1) -> Any:
        if key not in self.data:
            if default is ...:
                raise SuiteError(f"{self.where}: missing required key {key!r}")
            return default
        v = self.data[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < minimum:
            raise self.fail(key, f"an integer >= {minimum}")
        return v

    def str_list(self, key: str, default: Any = ...) -> Any:
        if key not in self.data:
            if default is ...:
                raise SuiteError(f"{self.where}: missing required key {key!r}")
            return default
        v = self.data[key]
        if isinstance(v, str):
            v = [v]
        if not isinstance(v, list) or not all(isinstance(x, str) and x for x in v):
            raise self.fail(key, "a list of strings")
        return tuple(v)

    def table(self, key: str) -> dict[str, Any]:
        v = self.data.get(key, {})
        if not isinstance(v, Mapping):
            raise self.fail(key, "a table")
        return dict(v)

    def number_table(self, key: str) -> dict[str, float]:
        out = {}
        for k, v in self.table(key).items():
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise SuiteError(f"{self.where}: {key}.{k}: expected a number, got {v!r}")
            out[k] = float(v)
        return out


def _flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in tree.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(_flatten(v, key + "."))
        else:
            out[key] = v
    return out


def _check_sets(raw: Mapping[str, Any], where: str) -> dict[str, Any]:
    """Flatten a ``set`` table to dotted keys and check their shape (values are checked on resolve)."""
    flat = _flatten(raw)
    for key in flat:
        parts = key.split(".")
        if parts[0] not in ALL_SECTIONS:
            raise SuiteError(f"{where}: set key {key!r}: unknown section {parts[0]!r}; allowed: {', '.join(ALL_SECTIONS)}")
        depth = 3 if parts[0] == "mitigation" else 2
        if len(parts) != depth:
            example = "mitigation.NAME.KEY" if depth == 3 else f"{parts[0]}.KEY"
            raise SuiteError(f"{where}: set key {key!r}: expected {example}")
        if key in RESERVED_SET_KEYS:
            raise SuiteError(f"{where}: set key {key!r} is not allowed in a suite: {RESERVED_SET_KEYS[key]}")
    return flat


MEASURED = ("modes", "high_quality", "reverse_kl", "kl", "fid", "isc", "kid", "precision", "recall", "f_score")
"""Metrics a suite may ask for (FID-like ones with an optional ``[EXTRACTOR]``)."""


def _check_metric(name: str, where: str) -> str:
    base = name.split("[", 1)[0]
    if not METRIC_RE.match(name) or base not in MEASURED or ("[" in name and base in MEASURED[:4]):
        raise SuiteError(f"{where}: key 'metrics': unknown metric {name!r}; allowed: {', '.join(MEASURED)} "
                         "(FID-like ones optionally with a feature extractor, e.g. fid[classifier:shapes])")
    return name


def parse_suite(data: Mapping[str, Any], *, source: str) -> Suite:
    """Validate a suite tree (from TOML) into a :class:`Suite`; errors name ``source`` and the key."""
    top = _Checker(data, source, SUITE_KEYS)
    name = top.str("name", required=True)
    if not NAME_RE.match(name):
        raise SuiteError(f"{source}: key 'name': {name!r} must be letters, digits, '.', '_', '+' or '-'")
    description = top.str("description", required=True)
    seeds_raw = data.get("seeds", 3)
    if isinstance(seeds_raw, list):
        if not seeds_raw or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds_raw):
            raise top.fail("seeds", "a positive integer or a non-empty list of integers >= 0")
        if len(set(seeds_raw)) != len(seeds_raw):
            raise top.fail("seeds", "distinct seeds")
        seeds = tuple(seeds_raw)
    else:
        seeds = tuple(range(top.int("seeds", 3)))
    steps = top.int("steps", 1000)
    metrics = tuple(_check_metric(m, source) for m in top.str_list("metrics", ()))
    device = top.str("device", "auto")
    if device not in ("auto", "cpu", "cuda"):
        raise top.fail("device", "one of 'auto', 'cpu', 'cuda'")
    eval_samples = top.int("eval_samples", None) if "eval_samples" in data else None
    suite_sets = _check_sets(top.table("set"), f"{source}: set")
    defaults = {
        "dataset": top.str("dataset", None),
        "arch": top.str("arch", None),
        "loss": top.str("loss", None),
        "mitigations": top.str_list("mitigations", ()),
    }

    raw_variants = data.get("variants")
    if raw_variants is None:
        raise SuiteError(f"{source}: missing required key 'variants' (add [[variants]] tables)")
    if not isinstance(raw_variants, list) or not raw_variants or not all(isinstance(v, Mapping) for v in raw_variants):
        raise SuiteError(f"{source}: key 'variants': expected a non-empty array of tables ([[variants]])")
    variants: list[Variant] = []
    for i, rv in enumerate(raw_variants):
        label = f"{source}: variants[{i}]" + (f" ({rv['name']!r})" if isinstance(rv.get("name"), str) else "")
        c = _Checker(rv, label, VARIANT_KEYS)
        vname = c.str("name", required=True)
        if not NAME_RE.match(vname):
            raise SuiteError(f"{label}: key 'name': {vname!r} must be letters, digits, '.', '_', '+' or '-' (it names a folder)")
        if any(v.name == vname for v in variants):
            raise SuiteError(f"{label}: key 'name': variant {vname!r} is defined twice")
        fields = {}
        for key in ("dataset", "arch", "loss"):
            value = c.str(key, defaults[key])
            if value is None:
                raise SuiteError(f"{label}: missing required key {key!r} (or set a suite-level default)")
            fields[key] = value
        vmetrics = tuple(_check_metric(m, label) for m in c.str_list("metrics", metrics))
        if not vmetrics:
            raise SuiteError(f"{label}: no metrics: set 'metrics' in the suite or the variant")
        variants.append(Variant(
            name=vname, **fields, mitigations=c.str_list("mitigations", defaults["mitigations"]),
            steps=c.int("steps", steps), metrics=vmetrics, sets=_check_sets(c.table("set"), f"{label}: set"),
            description=c.str("description", ""), eval_samples=c.int("eval_samples", eval_samples),
        ))

    all_metrics = tuple(dict.fromkeys(m for v in variants for m in v.metrics))
    primary = top.str("primary_metric", all_metrics[0])
    if primary not in all_metrics:
        raise SuiteError(f"{source}: key 'primary_metric': {primary!r} is not one of the suite's metrics ({', '.join(all_metrics)})")
    direction = top.str("primary_direction", metric_info(primary).direction)
    if direction not in ("max", "min"):
        raise top.fail("primary_direction", "'max' or 'min'")

    published: list[PublishedRow] = []
    raw_pub = data.get("published", [])
    if not isinstance(raw_pub, list) or not all(isinstance(p, Mapping) for p in raw_pub):
        raise SuiteError(f"{source}: key 'published': expected an array of tables ([[published]])")
    names = {v.name for v in variants}
    for i, rp in enumerate(raw_pub):
        label = f"{source}: published[{i}]"
        c = _Checker(rp, label, PUBLISHED_KEYS)
        variant = c.str("variant", None)
        if variant is not None and variant not in names:
            raise SuiteError(f"{label}: key 'variant': {variant!r} is not a variant of this suite ({', '.join(sorted(names))})")
        kind = c.str("error_kind", "std")
        if kind not in ("std", "se"):
            raise c.fail("error_kind", "'std' or 'se'")
        dataset = c.str("dataset", required=True)
        datasets = sorted({v.dataset for v in variants})
        if dataset not in datasets:
            raise SuiteError(f"{label}: key 'dataset': {dataset!r} is not a dataset of this suite's variants ({', '.join(datasets)})")
        values, errors = c.number_table("values"), c.number_table("errors")
        for key, table in (("values", values), ("errors", errors)):
            unknown = sorted(set(table) - set(all_metrics))
            if unknown:
                raise SuiteError(f"{label}: key '{key}': {', '.join(map(repr, unknown))} is not one of the suite's "
                                 f"metrics ({', '.join(all_metrics)})")
        published.append(PublishedRow(
            model=c.str("model", required=True), dataset=dataset,
            source=c.str("source", required=True), values=values, errors=errors,
            error_kind=kind, variant=variant, protocol=c.str("protocol", ""), note=c.str("note", ""),
        ))

    return Suite(
        name=name, description=description, seeds=seeds, variants=variants, metrics=all_metrics,
        primary_metric=primary, primary_direction=direction, device=device, protocol=top.str("protocol", ""),
        estimate=top.str("estimate", ""), eval_samples=eval_samples, sets=suite_sets, published=published,
        source=source, raw=copy.deepcopy(dict(data)),
    )


# ----------------------------------------------------------------------------- runs


def user_tree(suite: Suite, variant: Variant, *, seed: int, steps: int, device: str) -> dict[str, Any]:
    """The config tree of one run: bench defaults < suite ``set`` < variant fields < variant ``set``."""
    tree: dict[str, Any] = copy.deepcopy(BENCH_DEFAULTS)
    for dotted, value in {**suite.sets, **variant.sets}.items():
        set_dotted(tree, dotted.split("."), copy.deepcopy(value))
    run = {
        "dataset": variant.dataset, "arch": variant.arch, "loss": variant.loss,
        "mitigations": list(variant.mitigations), "seed": seed, "steps": steps, "device": device,
    }
    return merge(tree, {"run": run})


def fingerprint(tree: Mapping[str, Any]) -> str:
    """A hash of a run's config without ``run.steps`` (more steps extend a run instead of restarting it)."""
    t = copy.deepcopy(dict(tree))
    t.get("run", {}).pop("steps", None)
    t.get("run", {}).pop("device", None)
    return hashlib.sha256(json.dumps(t, sort_keys=True, default=str).encode()).hexdigest()[:16]


def validate_components(suite: Suite, host: Any = None) -> None:
    """Resolve every variant's config against the installed plugins (unknown names, bad options)."""
    from ganzoo import config as config_mod

    for v in suite.variants:
        tree = user_tree(suite, v, seed=suite.seeds[0], steps=v.steps, device="cpu")
        try:
            config_mod.resolve(tree, host)
        except GanzooError as exc:
            raise SuiteError(f"{suite.source}: variant {v.name!r}: {exc}") from None


def expand_runs(
    suite: Suite, out: Path, *, seeds: tuple[int, ...] | None = None, steps: int | None = None,
    device: str | None = None,
) -> list[RunSpec]:
    """Every (variant, seed) run, seeds outermost so that early results cover all variants."""
    runs = []
    for seed in seeds if seeds is not None else suite.seeds:
        for v in suite.variants:
            n = steps or v.steps
            tree = user_tree(suite, v, seed=seed, steps=n, device=device or suite.device)
            runs.append(RunSpec(
                variant=v.name, seed=seed, steps=n, run_dir=Path(out) / "runs" / v.name / f"seed-{seed}",
                user=tree, metrics=v.metrics, eval_samples=v.eval_samples, fingerprint=fingerprint(tree),
            ))
    return runs
