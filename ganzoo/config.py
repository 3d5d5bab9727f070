"""Run configuration: TOML files, ``--set key=value`` overrides, validation and precedence.

Precedence (lowest first): ganzoo's defaults < the components' ``recommended`` settings
(dataset, architecture, loss, mitigations, in that order) < the config file < command-line flags.

Sections: ``[run]`` and ``[train]`` (engine settings, below); ``[dataset]``, ``[arch]``,
``[loss]`` (the chosen component's options); ``[mitigation.NAME]`` (each mitigation's options).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

import tomli_w

from ganzoo.errors import ConfigError
from ganzoo.specs import Option

# Sane maximums for size-like settings: absurd values are refused with the allowed range instead of
# exhausting memory or overflowing a random generator's seed.
MAX_STEPS = 1_000_000_000
MAX_BATCH_SIZE = 65_536
LR_SCHEDULES = ("constant", "linear", "cosine")  # implemented in ganzoo.engine.schedule
MAX_SEED = 2**32 - 1  # numpy's seed range; torch's is wider

RUN_OPTIONS: dict[str, Option] = {
    "dataset": Option("ring8", "dataset plugin name"),
    "arch": Option("mlp", "architecture plugin name"),
    "loss": Option("ns-gan", "loss plugin name"),
    "mitigations": Option([], "mitigation plugin names, applied in order", type=list),
    "steps": Option(2000, "total number of generator steps", minimum=1, maximum=MAX_STEPS),
    "batch_size": Option(64, "batch size (real and fake)", minimum=1, maximum=MAX_BATCH_SIZE),
    "seed": Option(0, "random seed", minimum=0, maximum=MAX_SEED),
    "device": Option("auto", "where to train", choices=("auto", "cpu", "cuda")),
    "precision": Option("fp32", "autocast precision", choices=("fp32", "bf16", "fp16")),
    "data_root": Option("", "folder with local dataset files (empty: the dataset's default)"),
}

TRAIN_OPTIONS: dict[str, Option] = {
    "lr_g": Option(2e-4, "generator learning rate (Adam)", minimum=0.0),
    "lr_d": Option(2e-4, "discriminator learning rate (Adam)", minimum=0.0),
    "betas": Option([0.5, 0.999], "Adam betas for both networks", type=list),
    "n_critic": Option(1, "discriminator steps per generator step", minimum=1, maximum=100),
    "lr_schedule": Option("constant", "learning-rate schedule of both networks after warm-up (decay to lr_final)",
                          choices=LR_SCHEDULES),
    "lr_warmup": Option(0, "generator steps of linear learning-rate warm-up", minimum=0),
    "lr_final": Option(0.0, "learning rate at the last step, as a fraction of lr_g / lr_d (linear, cosine)",
                       minimum=0.0, maximum=1.0),
    "ema": Option(False, "keep an exponential moving average of the generator (used for sampling and export)"),
    "ema_decay": Option(0.999, "EMA decay", minimum=0.0, maximum=1.0),
    "ema_start": Option(0, "generator steps before the EMA starts averaging (until then it copies the generator)",
                        minimum=0),
    "log_every": Option(100, "steps between metrics.jsonl rows", minimum=1),
    "sample_every": Option(500, "steps between sample grids (0: only at the end)", minimum=0),
    "checkpoint_every": Option(1000, "steps between checkpoints (0: only at the end)", minimum=0),
    "keep_checkpoints": Option(3, "how many recent checkpoints to keep", minimum=1, maximum=1000),
    "num_samples": Option(64, "samples in each sample grid (2D: points in each scatter plot x 16)", minimum=1,
                          maximum=4096),
    "channels_last": Option(True, "use channels_last memory format for images on CUDA"),
    "device_data_limit_mb": Option(1024, "keep datasets up to this size on the device as tensors", minimum=0,
                                    maximum=1_048_576),
    "num_workers": Option(2, "DataLoader workers for datasets too large for the device", minimum=0,
                           maximum=256),
    "max_loss": Option(0.0, "stop the run when |loss_d| or |loss_g| exceeds this at a logging step (0: never)",
                       minimum=0.0),
    "eval_every": Option(0, "steps between evaluations during training (0: never)", minimum=0),
    "eval_metrics": Option([], "metrics evaluated during training, e.g. ['fid', 'modes']", type=list),
    "eval_num_samples": Option(2000, "generated samples per evaluation during training", minimum=1,
                                maximum=1_000_000),
    "eval_best": Option("", "metric whose best value keeps checkpoints/best.pt (e.g. 'fid' or 'modes')"),
    "eval_feature_extractor": Option("", "feature extractor for evaluation during training (empty: default)"),
    "tensorboard": Option(True, "write TensorBoard event files under tb/"),
    "sync_batchnorm": Option(False, "convert BatchNorm to SyncBatchNorm under torchrun"),
}

ENGINE_SECTIONS = {"run": RUN_OPTIONS, "train": TRAIN_OPTIONS}
COMPONENT_SECTIONS = ("dataset", "arch", "loss", "mitigation")
ALL_SECTIONS = ("run", "train", *COMPONENT_SECTIONS)


def load_toml(path: Path, what: str = "config file", error: type[ConfigError] = ConfigError) -> dict[str, Any]:
    """Read a TOML file with one-line errors (``error``) naming ``what`` it is and its path."""
    where = f"{what} {str(path)!r}"
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise error(f"{where} does not exist") from None
    except OSError as exc:
        raise error(f"cannot read {where}: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise error(f"{where} is not UTF-8 text (a binary or corrupt file?)") from None
    if "\x00" in text:
        raise error(f"{where} holds NUL bytes (a binary or corrupt file?)")
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise error(f"{where} is not valid TOML: {exc}") from None


def parse_value(raw: str) -> Any:
    """Parse a ``--set`` value as a TOML value; a bare word is a string."""
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        if raw and all(ch not in raw for ch in "[]{}\"'=\n"):
            return raw
        raise ConfigError(f"--set value {raw!r} is not a valid value (use TOML syntax: 3, 1e-4, true, \"text\", [1, 2])") from None


def parse_set(item: str) -> tuple[list[str], Any]:
    """Parse one ``--set section.key=value``."""
    if "=" not in item:
        raise ConfigError(f"--set {item!r}: expected KEY=VALUE, e.g. --set train.lr_g=1e-4")
    key, raw = item.split("=", 1)
    key = key.strip()
    parts = key.split(".")
    if len(parts) < 2 or any(not p for p in parts):
        raise ConfigError(
            f"--set {item!r}: the key must be SECTION.KEY with SECTION one of {', '.join(ALL_SECTIONS)} "
            f"(e.g. train.lr_g or mitigation.pacgan.pack)"
        )
    if parts[0] not in ALL_SECTIONS:
        raise ConfigError(f"--set {item!r}: unknown section {parts[0]!r}; allowed: {', '.join(ALL_SECTIONS)}")
    if parts[0] == "mitigation" and len(parts) != 3:
        raise ConfigError(f"--set {item!r}: mitigation options are mitigation.NAME.KEY, e.g. mitigation.pacgan.pack=3")
    if parts[0] != "mitigation" and len(parts) != 2:
        raise ConfigError(f"--set {item!r}: expected {parts[0]}.KEY")
    return parts, parse_value(raw.strip())


def set_dotted(tree: dict[str, Any], parts: Sequence[str], value: Any) -> None:
    node = tree
    for p in parts[:-1]:
        child = node.setdefault(p, {})
        if not isinstance(child, dict):
            raise ConfigError(f"{'.'.join(parts)}: {p!r} is not a table")
        node = child
    node[parts[-1]] = value


def flatten(tree: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """A nested tree as ``{"section.key": value}`` (the inverse of :func:`set_dotted`)."""
    out: dict[str, Any] = {}
    for k, v in tree.items():
        out.update(flatten(v, f"{prefix}{k}.") if isinstance(v, Mapping) else {f"{prefix}{k}": v})
    return out


def merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


@dataclass
class RunConfig:
    """A fully resolved and validated configuration."""

    run: dict[str, Any]
    train: dict[str, Any]
    dataset: dict[str, Any] = field(default_factory=dict)
    arch: dict[str, Any] = field(default_factory=dict)
    loss: dict[str, Any] = field(default_factory=dict)
    mitigation: dict[str, dict[str, Any]] = field(default_factory=dict)
    plugins: dict[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "run": dict(self.run),
            "train": dict(self.train),
            "dataset": dict(self.dataset),
            "arch": dict(self.arch),
            "loss": dict(self.loss),
            "mitigation": {k: dict(v) for k, v in self.mitigation.items()},
            "plugins": dict(self.plugins),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunConfig:
        return cls(
            run=dict(data.get("run", {})),
            train=dict(data.get("train", {})),
            dataset=dict(data.get("dataset", {})),
            arch=dict(data.get("arch", {})),
            loss=dict(data.get("loss", {})),
            mitigation={k: dict(v) for k, v in data.get("mitigation", {}).items()},
            plugins=dict(data.get("plugins", {})),
        )

    def to_toml(self) -> str:
        return tomli_w.dumps(_drop_none(self.to_dict()))


def _drop_none(tree: Any) -> Any:
    if isinstance(tree, dict):
        return {k: _drop_none(v) for k, v in tree.items() if v is not None}
    return tree


def _validate_engine_section(section: str, values: Mapping[str, Any]) -> dict[str, Any]:
    schema = ENGINE_SECTIONS[section]
    out = {k: o.default for k, o in schema.items()}
    for key, value in values.items():
        if key not in schema:
            import difflib

            close = difflib.get_close_matches(key, list(schema), n=1)
            hint = f" (did you mean {section}.{close[0]}?)" if close else ""
            raise ConfigError(f"unknown config key {section}.{key}{hint}; allowed: {', '.join(sorted(schema))}")
        out[key] = schema[key].validate(f"{section}.{key}", value)
    return out


def resolve(user: Mapping[str, Any], host: Any | None = None) -> RunConfig:
    """Validate ``user`` (config file merged with flags) and fill defaults and recommendations.

    ``host`` is the :class:`ganzoo.plugins.PluginHost` (the global one when None).
    """
    from ganzoo.plugins import get_host

    host = host or get_host()
    for section, value in user.items():
        if section not in ALL_SECTIONS and section != "plugins":
            raise ConfigError(f"unknown config section [{section}]; allowed: {', '.join(ALL_SECTIONS)}")
        if not isinstance(value, Mapping):
            raise ConfigError(f"[{section}] must be a table of KEY = VALUE")

    # Pass 1: learn the component names (user's choice or default).
    run_user = dict(user.get("run", {}))
    run_pre = _validate_engine_section("run", run_user)
    dataset = host.datasets.get(run_pre["dataset"])
    arch = host.architectures.get(run_pre["arch"])
    loss = host.losses.get(run_pre["loss"])
    mitigation_names = [str(m) for m in run_pre["mitigations"]]
    if len(set(mitigation_names)) != len(mitigation_names):
        raise ConfigError(f"run.mitigations: {mitigation_names} names a mitigation twice")
    mitigations = [host.mitigations.get(m) for m in mitigation_names]
    unknown_m = sorted(set(user.get("mitigation", {})) - set(mitigation_names))
    if unknown_m:
        raise ConfigError(
            f"mitigation.{unknown_m[0]}: options given for a mitigation that is not enabled; "
            f"enabled: {', '.join(mitigation_names) or 'none'} (add it with --mitigation {unknown_m[0]})"
        )

    # Pass 2: recommendations, then the user's values on top.
    recommended: dict[str, Any] = {}
    for comp in (dataset, arch, loss, *mitigations):
        for dotted, value in dict(getattr(comp, "recommended", {}) or {}).items():
            parts = dotted.split(".")
            if len(parts) != 2 or parts[0] not in ENGINE_SECTIONS or parts[1] not in ENGINE_SECTIONS[parts[0]]:
                raise ConfigError(f"{comp.kind} {comp.name!r} recommends unknown setting {dotted!r}")
            set_dotted(recommended, parts, value)
    merged = merge(recommended, {k: v for k, v in user.items() if k in ENGINE_SECTIONS})
    run_cfg = _validate_engine_section("run", merged.get("run", {}))
    train_cfg = _validate_engine_section("train", merged.get("train", {}))
    betas = train_cfg["betas"]
    if len(betas) != 2 or not all(isinstance(b, (int, float)) and 0 <= b < 1 for b in betas):
        raise ConfigError(f"train.betas: invalid value {betas!r}; expected two numbers in [0, 1)")
    train_cfg["betas"] = [float(b) for b in betas]

    cfg = RunConfig(
        run=run_cfg,
        train=train_cfg,
        dataset=dataset.with_options(user.get("dataset", {}), prefix="dataset").opts,
        arch=arch.with_options(user.get("arch", {}), prefix="arch").opts,
        loss=loss.with_options(user.get("loss", {}), prefix="loss").opts,
        mitigation={
            m.name: m.with_options(user.get("mitigation", {}).get(m.name, {}), prefix=f"mitigation.{m.name}").opts
            for m in mitigations
        },
    )
    used = [
        host.datasets.entry(dataset.name).plugin,
        host.architectures.entry(arch.name).plugin,
        host.losses.entry(loss.name).plugin,
        *[host.mitigations.entry(m.name).plugin for m in mitigations],
        # metrics evaluated during training (unknown names are reported when the evaluator starts)
        *[host.metrics.entry(str(m)).plugin for m in train_cfg["eval_metrics"] if str(m) in host.metrics],
    ]
    versions = host.plugin_versions()
    cfg.plugins = {p: versions.get(p, "") for p in dict.fromkeys(used)}
    return cfg


def build_user_config(
    config_file: Path | None, flags: Mapping[str, Any], sets: Sequence[str]
) -> dict[str, Any]:
    """Merge a config file, explicit CLI flags (``section.key`` -> value) and ``--set`` items."""
    tree: dict[str, Any] = load_toml(config_file) if config_file else {}
    if config_file and not tree:
        raise ConfigError(f"config file {str(config_file)!r} is empty; give at least one [run] or [train] setting")
    tree.pop("plugins", None)
    for dotted, value in flags.items():
        set_dotted(tree, dotted.split("."), value)
    for item in sets:
        parts, value = parse_set(item)
        set_dotted(tree, parts, value)
    return tree
