"""A generator exported by ``ganzoo export``, driven with onnxruntime and numpy only."""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Union

import numpy as np

from ganzoo.runtime import metadata as md
from ganzoo.runtime import providers as prov
from ganzoo.runtime.errors import ConfigError, ModelFileError

DEFAULT_BATCH_SIZE = 256
PathLike = Union[str, "os.PathLike[str]"]
Labels = None | int | Sequence[int] | np.ndarray


def _one_line(exc: BaseException, limit: int = 240) -> str:
    text = " ".join(str(exc).split())
    if "INVALID_PROTOBUF" in text:
        return "cannot parse it (not an ONNX file, or a truncated one)"
    text = re.sub(r"^\[ONNXRuntimeError\] : \d+ : \w+ : ", "", text)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _static_dim(value_info: Any, axis: int) -> int | None:
    shape = getattr(value_info, "shape", None)
    if not isinstance(shape, (list, tuple)) or len(shape) <= axis:
        return None
    dim = shape[axis]
    return dim if isinstance(dim, int) and dim > 0 else None


class GeneratorSession:
    """An onnxruntime session around an exported generator, with what its metadata says.

    ``run(z)`` maps latents to samples; ``sample``/``iter_batches`` draw the latents themselves
    (z ~ N(0, 1) or U(-1, 1) per ``latent_distribution``, from ``numpy.random.default_rng(seed)``,
    so the same seed gives the same samples whatever the batch size).
    """

    def __init__(self, session: Any, path: Path, info: md.ModelInfo, latent_dim: int, *, provider: str = "cpu") -> None:
        self.session = session
        self.path = path
        self.info = info
        self.provider_choice = provider
        self._latent_dim = int(latent_dim)
        inputs = {i.name: i for i in session.get_inputs()}
        float_inputs = [i for i in session.get_inputs() if i.type == "tensor(float)"]
        if md.INPUT_Z in inputs:
            self.input_name = md.INPUT_Z
        elif len(float_inputs) == 1:
            self.input_name = float_inputs[0].name
        else:
            raise ModelFileError(f"{path}: no float32 input named {md.INPUT_Z!r} (inputs: {', '.join(inputs)})")
        self.labels_name = md.INPUT_LABELS if md.INPUT_LABELS in inputs else None
        extra = set(inputs) - {self.input_name, self.labels_name}
        if extra:
            raise ModelFileError(f"{path}: unexpected model inputs {', '.join(sorted(extra))} (a generator takes z [and labels])")
        outputs = [o.name for o in session.get_outputs()]
        self.output_name = md.OUTPUT_X if md.OUTPUT_X in outputs else outputs[0]
        self._sample_shape = info.sample_shape
        if self._sample_shape is None:
            out = session.get_outputs()[outputs.index(self.output_name)]
            dims = out.shape[1:] if isinstance(out.shape, (list, tuple)) else []
            if dims and all(isinstance(d, int) and d > 0 for d in dims):
                self._sample_shape = tuple(int(d) for d in dims)

    # ------------------------------------------------------------------ what the model is
    @property
    def metadata(self) -> dict[str, str]:
        """The model's custom metadata (``ganzoo.*`` keys for files from ``ganzoo export``)."""
        return dict(self.info.raw)

    @property
    def latent_dim(self) -> int:
        return self._latent_dim

    @property
    def latent_distribution(self) -> str:
        return self.info.latent_distribution

    @property
    def sample_shape(self) -> tuple[int, ...] | None:
        """Shape of one sample (``(C, H, W)`` or ``(D,)``); None until known for foreign models."""
        return self._sample_shape

    @property
    def value_range(self) -> tuple[float, float] | None:
        return self.info.value_range

    @property
    def num_classes(self) -> int | None:
        return self.info.num_classes

    @property
    def providers(self) -> list[str]:
        """The execution providers the session actually runs on, highest priority first."""
        return list(self.session.get_providers())

    # ------------------------------------------------------------------ running it
    def latents(self, rng: np.random.Generator, n: int) -> np.ndarray:
        """``n`` latent vectors ``[n, latent_dim]`` float32 drawn from ``rng``."""
        if self.latent_distribution == "uniform":
            return rng.uniform(-1.0, 1.0, size=(n, self.latent_dim)).astype(np.float32)
        return rng.standard_normal((n, self.latent_dim), dtype=np.float32)

    def run(self, z: np.ndarray, labels: np.ndarray | None = None) -> np.ndarray:
        """Generator output for latents ``z`` (``[N, latent_dim]``) and, for conditional models, int64 ``labels``."""
        z = np.ascontiguousarray(z, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.latent_dim:
            raise ConfigError(f"z has shape {tuple(z.shape)}; the model takes [N, {self.latent_dim}]")
        feed: dict[str, np.ndarray] = {self.input_name: z}
        if self.labels_name is not None:
            if labels is None:
                raise ConfigError("this generator is conditional: pass labels (int64 [N])")
            feed[self.labels_name] = np.ascontiguousarray(labels, dtype=np.int64).reshape(-1)
        out = self.session.run([self.output_name], feed)[0]
        if self._sample_shape is None:
            self._sample_shape = tuple(int(d) for d in out.shape[1:])
        return np.asarray(out, dtype=np.float32)

    def _labels(self, labels: Labels, n: int, seed: int) -> np.ndarray | None:
        if self.labels_name is None:
            if labels is not None:
                raise ConfigError("labels given, but this generator is not conditional")
            return None
        k = self.num_classes
        if labels is None:
            if not k:
                raise ModelFileError(f"{self.path}: conditional model without {md.NUM_CLASSES} metadata; pass labels")
            rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(1,)))
            return rng.integers(0, k, size=n, dtype=np.int64)
        arr = np.full(n, int(labels), dtype=np.int64) if isinstance(labels, (int, np.integer)) else np.asarray(labels, dtype=np.int64).reshape(-1)
        if arr.shape[0] != n:
            raise ConfigError(f"labels: expected {n} labels, got {arr.shape[0]}")
        if k and arr.size and (arr.min() < 0 or arr.max() >= k):
            raise ConfigError(f"labels: expected values in 0..{k - 1}")
        return arr

    def iter_batches(self, n: int, *, seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE, labels: Labels = None) -> Iterator[np.ndarray]:
        """Yield ``n`` samples in batches of at most ``batch_size`` (streaming; nothing else is kept)."""
        _check_counts(n, batch_size)
        rng = np.random.default_rng(seed)
        all_labels = self._labels(labels, n, seed)
        for start in range(0, n, batch_size):
            k = min(batch_size, n - start)
            y = None if all_labels is None else all_labels[start:start + k]
            yield self.run(self.latents(rng, k), y)

    def sample(self, n: int, *, seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE, labels: Labels = None) -> np.ndarray:
        """``n`` samples as one float32 array ``[n, *sample_shape]``."""
        batches = list(self.iter_batches(n, seed=seed, batch_size=batch_size, labels=labels))
        return np.concatenate(batches, axis=0)

    def __repr__(self) -> str:
        return f"<GeneratorSession {str(self.path)!r} latent_dim={self.latent_dim} shape={self.sample_shape} on {self.providers[0]}>"


def _check_counts(n: int, batch_size: int) -> None:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ConfigError(f"-n {n}: expected a positive number of samples")
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ConfigError(f"--batch-size {batch_size}: expected a positive integer")


def _session_options(severity: int) -> Any:
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.log_severity_level = severity
    return so


def _open_session(path: Path, providers: list[str], severity: int, options: Any = None) -> Any:
    import onnxruntime as ort

    so = options if options is not None else _session_options(severity)
    return ort.InferenceSession(str(path), so, providers=providers, enable_fallback=0)


@contextlib.contextmanager
def _quiet_ort(quiet: bool) -> Iterator[None]:
    """Silence onnxruntime's process-wide logger (provider library load errors) while probing."""
    if not quiet:
        yield
        return
    import onnxruntime as ort

    ort.set_default_logger_severity(4)
    try:
        yield
    finally:
        ort.set_default_logger_severity(2)


def _resolve_latent_dim(path: Path, info: md.ModelInfo, graph_dim: int | None, given: int | None) -> int:
    if given is not None and (isinstance(given, bool) or not isinstance(given, int) or given < 1):
        raise ConfigError(f"--latent-dim {given}: expected a positive integer")
    known = info.latent_dim if info.latent_dim is not None else graph_dim
    if known is not None:
        if given is not None and given != known:
            source = f"its {md.LATENT_DIM} metadata" if info.latent_dim is not None else "its input shape"
            raise ConfigError(f"--latent-dim {given}: {path} takes latent_dim={known} (from {source})")
        if graph_dim is not None and graph_dim != known:
            raise ModelFileError(f"{path}: metadata {md.LATENT_DIM}={known} but the input z has {graph_dim} columns")
        return known
    if given is None:
        raise ConfigError(
            f"{path} has no ganzoo metadata and its input z has no fixed size; give the latent size with --latent-dim D"
        )
    return given


def load(
    path: PathLike, provider: str = "auto", *, latent_dim: int | None = None, session_options: Any = None,
) -> GeneratorSession:
    """Open an exported generator with onnxruntime.

    ``provider``: ``auto`` (CUDA when usable, else CPU, silently), ``cpu``, ``cuda`` or ``tensorrt``
    (these two raise :class:`ProviderError` when they cannot run here). ``latent_dim`` is only
    needed for ONNX files without ganzoo metadata whose input has no fixed size. ``session_options``
    (an ``onnxruntime.SessionOptions``, e.g. with ``intra_op_num_threads``) replaces ganzoo's
    defaults (errors-only logging).
    """
    p = Path(path)
    if not p.exists():
        raise ModelFileError(f"{str(p)!r}: no such file")
    if p.is_dir():
        raise ModelFileError(f"{str(p)!r} is a directory, not an ONNX file (export a run with `ganzoo export RUN_DIR`)")
    requested = prov.plan(provider)
    gpu = requested[0] != prov.CPU
    try:
        with _quiet_ort(gpu and provider == "auto"):
            session = _open_session(p, requested, 3, session_options)
    except Exception as exc:  # onnxruntime raises its own exception types
        if not gpu:
            raise ModelFileError(f"{str(p)!r} is not a valid ONNX model: {_one_line(exc)}") from None
        try:  # a bad file, or a GPU provider that failed to start?
            _open_session(p, [prov.CPU], 3)
        except Exception:
            raise ModelFileError(f"{str(p)!r} is not a valid ONNX model: {_one_line(exc)}") from None
        if provider == "auto":
            return load(p, "cpu", latent_dim=latent_dim, session_options=session_options)
        prov.check_started(provider, requested, [prov.CPU])
        raise
    started = list(session.get_providers())
    prov.check_started(provider, requested, started)
    raw: Mapping[str, str] = session.get_modelmeta().custom_metadata_map or {}
    info = md.parse_metadata(raw, where=str(p))
    z_inputs = [i for i in session.get_inputs() if i.name == md.INPUT_Z] or [
        i for i in session.get_inputs() if i.type == "tensor(float)"
    ]
    graph_dim = _static_dim(z_inputs[0], 1) if len(z_inputs) == 1 else None
    dim = _resolve_latent_dim(p, info, graph_dim, latent_dim)
    return GeneratorSession(session, p, info, dim, provider=provider)


def _as_session(model: GeneratorSession | PathLike, provider: str) -> GeneratorSession:
    return model if isinstance(model, GeneratorSession) else load(model, provider)


def iter_samples(
    model: GeneratorSession | PathLike, n: int, *, seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE,
    labels: Labels = None, provider: str = "auto",
) -> Iterator[np.ndarray]:
    """Stream ``n`` samples of ``model`` (a session or a path) in batches of at most ``batch_size``."""
    return _as_session(model, provider).iter_batches(n, seed=seed, batch_size=batch_size, labels=labels)


def sample(
    model: GeneratorSession | PathLike, n: int, *, seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE,
    labels: Labels = None, provider: str = "auto",
) -> np.ndarray:
    """``n`` samples of ``model`` (a session or a path) as a float32 array ``[n, *sample_shape]``."""
    return _as_session(model, provider).sample(n, seed=seed, batch_size=batch_size, labels=labels)
