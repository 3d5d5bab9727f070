"""``ganzoo doctor``: what this machine can do (torch/CUDA, onnxruntime, torch-fidelity, plugins)."""

from __future__ import annotations

import os
import platform
from pathlib import Path

import click


_checks: list[dict[str, str]] = []
_as_json = False


def _line(ok: bool | None, label: str, detail: str) -> None:
    _checks.append({"check": label, "status": {True: "ok", False: "fail", None: "info"}[ok], "detail": detail})
    if not _as_json:
        mark = {True: "ok  ", False: "FAIL", None: "info"}[ok]
        click.echo(f"[{mark}] {label}: {detail}")


@click.command("doctor")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (every check: status and detail) on stdout.")
def command(as_json: bool) -> None:
    """Check the installation and report what is available."""
    global _as_json
    _checks.clear()
    _as_json = as_json
    try:
        _doctor()
    finally:
        _as_json = False
    if as_json:
        from ganzoo.cli.common import echo_json

        echo_json({"ok": all(c["status"] != "fail" for c in _checks), "checks": list(_checks)})


def _doctor() -> None:
    import torch

    from ganzoo import __version__
    from ganzoo.plugins import get_host

    _line(None, "ganzoo", f"{__version__} on Python {platform.python_version()} ({platform.system()})")
    cuda = torch.cuda.is_available()
    _line(True, "torch", f"{torch.__version__}; CUDA {'available: ' + torch.cuda.get_device_name(0) if cuda else 'not available (CPU only)'}")
    try:
        import torchvision

        _line(True, "torchvision", torchvision.__version__)
    except Exception as exc:  # noqa: BLE001
        _line(False, "torchvision", f"cannot import ({exc}); install a torchvision build matching torch {torch.__version__}")
    try:
        import onnxruntime as ort

        from ganzoo.runtime.providers import CPU, cuda_device_count

        offered = list(ort.get_available_providers())
        gpu = [p for p in offered if p != CPU]
        usable = offered if cuda_device_count() > 0 else [p for p in offered if p not in gpu]
        _line(True, "onnxruntime", f"{ort.__version__}; usable providers: {', '.join(usable) or 'none'}")
        if gpu and usable != offered:
            _line(None, "onnxruntime GPU providers", f"{', '.join(gpu)} available in onnxruntime, no CUDA device")
    except Exception as exc:  # noqa: BLE001
        _line(False, "onnxruntime", f"cannot import ({exc})")
    try:
        import torch_fidelity

        _line(True, "torch-fidelity", torch_fidelity.__version__)
        weights = os.environ.get("GANZOO_FEATURE_WEIGHTS")
        hub = Path(torch.hub.get_dir()) / "checkpoints"
        found = sorted(p.name for p in hub.glob("*inception*")) if hub.is_dir() else []
        if weights:
            _line(Path(weights).is_file(), "Inception weights", f"GANZOO_FEATURE_WEIGHTS={weights}")
        elif found:
            _line(True, "Inception weights", f"cached in {hub}: {', '.join(found)}")
        else:
            _line(None, "Inception weights", "not downloaded yet (FID/IS fetch them on first use; offline: --feature-weights PATH or --feature-extractor classifier)")
    except Exception as exc:  # noqa: BLE001
        _line(False, "torch-fidelity", f"cannot import ({exc})")
    host = get_host()
    loaded = [p for p in host.plugins if p.status == "loaded"]
    _line(True, "plugins", f"{len(loaded)} loaded: {', '.join(p.name for p in loaded)}")
    for p in host.plugins:
        if p.status == "failed":
            _line(False, f"plugin {p.name}", p.error or "failed")
        elif p.status == "disabled":
            _line(None, f"plugin {p.name}", "disabled by GANZOO_DISABLE_PLUGINS")
    counts = ", ".join(f"{len(r)} {r.plural}" for r in host.registries.values())
    _line(None, "components", counts)
