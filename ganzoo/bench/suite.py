"""Bench suites: the TOML schema (pydantic models, unknown keys refused), its one-line errors, and the expansion
into runs. The keys are documented in docs/bench.md ("Writing your own suite")."""

from __future__ import annotations

import copy
import difflib
import hashlib
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, ValidationError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

from ganzoo.config import ALL_SECTIONS, MAX_SEED, flatten, load_toml, merge, resolve, set_dotted
from ganzoo.errors import ConfigError, GanzooError
from ganzoo.metrics.catalogue import check_value_name, value_info


class SuiteError(ConfigError):
    """A bad suite file: the message names the file, the entry and the key."""


OUTPUT_ONLY_KEYS = ("tensorboard",)  # `train` keys that change what a run writes, not what it trains: not fingerprinted
RESERVED_SET_KEYS = {"run.seed": "the bench sets the seed of each run (use `seeds`)", "run.steps": "use `steps`",
                     "run.device": "use the suite's `device` or `ganzoo bench --device`",
                     **{f"run.{k}": f"use the variant's `{k}` field" for k in ("dataset", "arch", "loss", "mitigations")}}
MAX_SEEDS = 1000  # more would be days of runs, not a typo we should start
EVAL_SEED = 0  # the seed of every evaluation: `ganzoo eval --seed`'s default


def _metric(name: str) -> str:
    try:
        return check_value_name(name)
    except ConfigError as exc:  # pydantic reports ValueErrors
        raise ValueError(str(exc)) from None


def _sets(raw: dict[str, Any]) -> dict[str, Any]:
    """A ``set`` table as dotted keys, their shape checked (values are checked when the config resolves)."""
    flat = flatten(raw)
    for key in flat:
        section = key.split(".")[0]
        shape = "mitigation.NAME.KEY" if section == "mitigation" else f"{section}.KEY"
        if section not in ALL_SECTIONS:
            raise ValueError(f"set key {key!r}: unknown section {section!r}; allowed: {', '.join(ALL_SECTIONS)}")
        if key.count(".") != shape.count("."):
            raise ValueError(f"set key {key!r}: expected {shape}")
        if key in RESERVED_SET_KEYS:
            raise ValueError(f"set key {key!r} is not allowed in a suite: {RESERVED_SET_KEYS[key]}")
    return flat


def _seeds(v: Any) -> Any:
    """``seeds = K`` stands for seeds 0..K-1."""
    if not isinstance(v, int) or isinstance(v, bool) or v < 1:
        return v
    if v > MAX_SEEDS:
        raise ValueError(f"at most {MAX_SEEDS} seeds, got {v}")
    return list(range(v))


def _distinct(v: list[int]) -> tuple[int, ...]:
    if len(set(v)) != len(v):
        raise ValueError(f"seeds must be distinct, got {v!r}")
    return tuple(v)


Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]*$")]
Text = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=1)]
Metrics = Annotated[list[Annotated[str, AfterValidator(_metric)]], Field(min_length=1)]
StrList = Annotated[list[Text], BeforeValidator(lambda v: [v] if isinstance(v, str) else v)]
Sets = Annotated[dict[str, Any], AfterValidator(_sets), Field(alias="set")]
Seeds = Annotated[list[Annotated[int, Field(ge=0, le=MAX_SEED)]], BeforeValidator(_seeds),
                  Field(min_length=1, max_length=MAX_SEEDS), AfterValidator(_distinct)]


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True)


class Variant(_Schema):
    """A ``[[variants]]`` entry; fields that default to None hold the suite's defaults once it is loaded."""

    name: Name
    description: str = ""
    dataset: Text = None  # type: ignore[assignment]  # filled in by _complete
    arch: Text = None  # type: ignore[assignment]  # filled in by _complete
    loss: Text = None  # type: ignore[assignment]  # filled in by _complete
    mitigations: StrList | None = None
    steps: Count = None  # type: ignore[assignment]  # filled in by _complete
    metrics: Metrics | None = None
    eval_samples: Count | None = None
    baseline: bool = False  # the variant the others of its dataset are tested against
    sets: Sets = {}

    @property
    def components(self) -> str:
        """``arch · loss + mitigations``, for tables."""
        return " + ".join([f"{self.arch} · {self.loss}", *(self.mitigations or ())])


class PublishedRow(_Schema):
    """A ``[[published]]`` entry: numbers from a paper, shown beside ours."""

    model: Text
    dataset: Text
    source: Text
    values: dict[str, float] = {}
    errors: dict[str, float] = {}
    error_kind: Literal["std", "se"] = "std"
    variant: str | None = None
    protocol: str = ""
    note: str = ""


class Suite(_Schema):
    name: Name
    description: Text
    seeds: Seeds = (0, 1, 2)  # type: ignore[assignment]
    steps: Count = 1000
    metrics: Metrics | None = None
    primary_metric: str = None  # type: ignore[assignment]  # filled in by _complete
    primary_direction: Literal["max", "min"] = None  # type: ignore[assignment]  # filled in by _complete
    dataset: Text | None = None
    arch: Text | None = None
    loss: Text | None = None
    mitigations: StrList = []
    device: Literal["auto", "cpu", "cuda"] = "auto"
    protocol: str = ""
    estimate: str = ""
    eval_samples: Count | None = None
    sets: Sets = {}
    variants: Annotated[list[Variant], Field(min_length=1)]
    published: list[PublishedRow] = []
    _source: str = PrivateAttr("")
    _raw: dict[str, Any] = PrivateAttr(default_factory=dict)

    @property
    def source(self) -> str:
        return self._source

    @property
    def datasets(self) -> list[str]:
        return list(dict.fromkeys(v.dataset for v in self.variants))

    def variant(self, name: str) -> Variant:
        return next(v for v in self.variants if v.name == name)

    def to_toml(self) -> str:
        import tomli_w

        return tomli_w.dumps(self._raw)

    def _complete(self) -> None:
        """Fill the variants' defaults from the suite and check what spans entries; raises :class:`SuiteError`."""
        src, names, baselines = self._source, [v.name for v in self.variants], dict[str, str]()
        for i, v in enumerate(self.variants):
            where = f"{src}: variants[{i}] ({v.name!r})"
            if v.name in names[:i]:
                raise SuiteError(f"{where}: key 'name': variant {v.name!r} is defined twice")
            for key in ("dataset", "arch", "loss"):
                if getattr(v, key) is None and getattr(self, key) is None:
                    raise SuiteError(f"{where}: missing required key {key!r} (or set a suite-level default)")
            if v.metrics is None and self.metrics is None:
                raise SuiteError(f"{where}: no metrics: set 'metrics' in the suite or the variant")
            for key in ("dataset", "arch", "loss", "mitigations", "steps", "metrics", "eval_samples"):
                if getattr(v, key) is None:
                    setattr(v, key, copy.copy(getattr(self, key)))
            v.mitigations, v.metrics = tuple(v.mitigations or ()), tuple(v.metrics or ())  # type: ignore[assignment]
            if v.baseline and v.dataset in baselines:
                raise SuiteError(f"{src}: key 'baseline': variants {baselines[v.dataset]!r} and {v.name!r} are both the "
                                 f"baseline of dataset {v.dataset!r} (one per dataset)")
            baselines.update({v.dataset: v.name} if v.baseline else {})
        self.metrics = list(dict.fromkeys(m for v in self.variants for m in v.metrics))  # type: ignore[union-attr]
        self.primary_metric = self.primary_metric or self.metrics[0]
        if self.primary_metric not in self.metrics:
            raise SuiteError(f"{src}: key 'primary_metric': {self.primary_metric!r} is not one of the suite's metrics "
                             f"({', '.join(self.metrics)})")
        self.primary_direction = self.primary_direction or value_info(self.primary_metric).direction
        for i, p in enumerate(self.published):
            where = f"{src}: published[{i}]"
            if p.variant is not None and p.variant not in names:
                raise SuiteError(f"{where}: key 'variant': {p.variant!r} is not a variant of this suite "
                                 f"({', '.join(sorted(names))})")
            if p.dataset not in self.datasets:
                raise SuiteError(f"{where}: key 'dataset': {p.dataset!r} is not a dataset of this suite's variants "
                                 f"({', '.join(sorted(self.datasets))})")
            for key, unknown in (("values", set(p.values) - set(self.metrics)), ("errors", set(p.errors) - set(self.metrics))):
                if unknown:
                    raise SuiteError(f"{where}: key {key!r}: {', '.join(map(repr, sorted(unknown)))} is not one of the "
                                     f"suite's metrics ({', '.join(self.metrics)})")


def _one_line(exc: ValidationError, data: Mapping[str, Any], source: str) -> SuiteError:
    """The first pydantic error as ``SOURCE: ENTRY: key 'K': expected ..., got VALUE``."""
    err = exc.errors(include_url=False)[0]
    loc, where, node = list(err["loc"]), source, data
    model: type[BaseModel] = Suite
    while len(loc) > 1 and loc[0] in ("variants", "published") and isinstance(loc[1], int):
        model, node = Variant if loc[0] == "variants" else PublishedRow, (node.get(loc[0]) or [{}])[loc[1]]
        name = node.get("name") if isinstance(node, Mapping) and loc[0] == "variants" else None
        where += f": {loc[0]}[{loc[1]}]" + (f" ({name!r})" if isinstance(name, str) else "")
        loc = loc[2:]
    key = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if err["type"] == "extra_forbidden":
        allowed = sorted(f.alias or name for name, f in model.model_fields.items())
        hint = "".join(f" (did you mean {c!r}?)" for c in difflib.get_close_matches(key, allowed, n=1))
        return SuiteError(f"{where}: unknown key {key!r}{hint}; allowed: {', '.join(allowed)}")
    if err["type"] == "missing":
        return SuiteError(f"{where}: missing required key {key!r}" + (" (add [[variants]] tables)" if key == "variants" else ""))
    if err["type"] == "value_error":
        return SuiteError(f"{where}: {key}: {err['msg'].removeprefix('Value error, ')}")
    expected = err["msg"].removeprefix("Input should be ").removeprefix("String should ")
    expected = expected.replace("have at least 1 item", "not be empty")
    return SuiteError(f"{where}: key {key!r}: expected {expected}, got {err['input']!r}")


def parse_suite(data: Mapping[str, Any], *, source: str) -> Suite:
    """Validate a suite tree (from TOML) into a :class:`Suite`; errors name ``source``, the entry and the key."""
    try:
        suite = Suite.model_validate(dict(data))
    except ValidationError as exc:
        raise _one_line(exc, data, source) from None
    suite._source, suite._raw = source, copy.deepcopy(dict(data))
    suite._complete()
    return suite


def parse_suite_text(text: str, *, source: str) -> Suite:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{source}: not valid TOML: {exc}") from None
    return parse_suite(data, source=source)


def builtin_suite_names() -> list[str]:
    """Names of the suites shipped with ganzoo (``quick`` first)."""
    names = [p.name[:-5] for p in (resources.files("ganzoo.bench") / "suites").iterdir() if p.name.endswith(".toml")]
    return sorted(names, key=lambda n: (n != "quick", n))


def load_suite(spec: str | Path) -> Suite:
    """A built-in suite by name, or a suite file by path (ending in ``.toml``, or an existing path that is not a
    built-in name: ``--suite quick`` stays the built-in suite beside a folder ``quick``, e.g. the bench's output)."""
    name, names = str(spec), builtin_suite_names()
    if name in names:
        text = (resources.files("ganzoo.bench") / "suites" / f"{name}.toml").read_text(encoding="utf-8")
        return parse_suite_text(text, source=f"built-in suite {name!r}")
    if not name.endswith(".toml") and not Path(name).exists():
        hint = "".join(f" (did you mean {c!r}?)" for c in difflib.get_close_matches(name, names, n=1))
        raise SuiteError(f"--suite {name!r}: no built-in suite of that name{hint}; built-in: {', '.join(names)} "
                         "(or pass a path to a FILE.toml)")
    return parse_suite(load_toml(Path(name), "suite file", SuiteError), source=name)


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
    threads: int | None = None  # torch threads for this run (None: one)

    @property
    def key(self) -> str:
        return f"{self.variant}/seed-{self.seed}"

    @property
    def eval_key(self) -> str:
        """What the evaluation depends on besides the trained generator."""
        return f"{','.join(self.metrics)}|{self.eval_samples or 'protocol'}|ganzoo.metrics.evaluate seed {EVAL_SEED}"


def user_tree(suite: Suite, variant: Variant, *, seed: int, steps: int, device: str) -> dict[str, Any]:
    """The config tree of one run: suite ``set`` < variant ``set`` < variant fields."""
    tree: dict[str, Any] = {}
    for dotted, value in {**suite.sets, **variant.sets}.items():
        set_dotted(tree, dotted.split("."), copy.deepcopy(value))
    run = {"dataset": variant.dataset, "arch": variant.arch, "loss": variant.loss,
           "mitigations": list(variant.mitigations or ()), "seed": seed, "steps": steps, "device": device}
    return merge(tree, {"run": run})


def fingerprint(tree: Mapping[str, Any]) -> str:
    """A hash of a run's config but its steps (more steps extend a run), device and output-only keys."""
    run = {k: v for k, v in tree.get("run", {}).items() if k not in ("steps", "device")}
    train = {k: v for k, v in tree.get("train", {}).items() if k not in OUTPUT_ONLY_KEYS}
    t = {**tree, **({"run": run} if "run" in tree else {}), "train": train}
    if not train:
        del t["train"]
    return hashlib.sha256(json.dumps(t, sort_keys=True, default=str).encode()).hexdigest()[:16]


def validate_components(suite: Suite, steps: int | None = None) -> dict[str, dict[str, Any]]:
    """Every variant's config (at its first seed) resolved against the installed plugins: unknown names and bad
    options are a :class:`SuiteError`."""
    resolved = {}
    for v in suite.variants:
        try:
            tree = user_tree(suite, v, seed=suite.seeds[0], steps=steps or v.steps, device="cpu")
            resolved[v.name] = resolve(tree).to_dict()
        except GanzooError as exc:
            raise SuiteError(f"{suite.source}: variant {v.name!r}: {exc}") from None
    return resolved


def expand_runs(suite: Suite, out: Path, *, seeds: tuple[int, ...] | None = None, steps: int | None = None,
                device: str | None = None) -> list[RunSpec]:
    """Every (variant, seed) run, seeds outermost so that early results cover all variants."""
    runs = []
    for seed in seeds if seeds is not None else suite.seeds:
        for v in suite.variants:
            n = steps or v.steps or 1
            tree = user_tree(suite, v, seed=seed, steps=n, device=device or suite.device)
            runs.append(RunSpec(v.name, seed, n, Path(out) / "runs" / v.name / f"seed-{seed}", tree, tuple(v.metrics or ()),
                                v.eval_samples, fingerprint(tree)))
    return runs
