"""The shared training loop: any architecture x loss x mitigations x dataset, on CPU or CUDA.

One step = ``n_critic`` discriminator updates, then one generator update through the fake batch of
the last discriminator update (one generator forward per step, as in pytorch/examples' DCGAN). Losses are accumulated
on the device and read once per logging interval (no per-step host synchronisation).
"""

from __future__ import annotations

import contextlib
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo import __version__
from ganzoo.config import RunConfig
from ganzoo.engine import checkpoint as ckpt
from ganzoo.distributed import sync as dist_sync
from ganzoo.engine import rng
from ganzoo.engine.divergence import DivergenceWatch
from ganzoo.engine.components import Assembly, assemble, info_to_dict, sample_latent
from ganzoo.engine.data import BatchSource
from ganzoo.engine.device import autocast_dtype, resolve_device
from ganzoo.engine.ema import EMA
from ganzoo.engine.schedule import lr_factor, set_lr
from ganzoo.engine.logger import RunLogger
from ganzoo.engine.samples import image_grid, save_samples
from ganzoo.engine.step import GanStep, LatentSampler, Networks, generate
from ganzoo.metrics.during_training import TrainingEvaluator
from ganzoo.errors import ConfigError, TrainingDivergedError
from ganzoo.plugins import call_observer
from ganzoo.rundir import write_status
from ganzoo.specs import generator_latent_dim, generator_training_latent_dim
from ganzoo.distributed.context import check_sync_batchnorm

class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> _StopRequest:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._old[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass
        return self

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is not None and signum == signal.SIGINT:
            raise KeyboardInterrupt  # second Ctrl-C: give up immediately
        self.signum = signum

    def __exit__(self, *exc: Any) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)


class Trainer:
    """Trains one run in ``run_dir``. Create it fresh, or with ``resume=True`` to continue."""

    def __init__(
        self,
        cfg: RunConfig,
        run_dir: Path,
        host: Any,
        *,
        quiet: bool = True,
        resume: bool = False,
        rank: int = 0,
        world_size: int = 1,
        wrap_models: Callable[[nn.Module], nn.Module] | None = None,
    ) -> None:
        self.cfg = cfg
        self.run_dir = Path(run_dir)
        self.host = host
        self.quiet = quiet
        self.rank, self.world_size = rank, world_size
        self.is_main = rank == 0
        run, train = cfg.run, cfg.train
        self.device = resolve_device(run["device"])
        if world_size > 1:
            if self.device.type == "cuda":  # one GPU per process: the one torchrun's LOCAL_RANK selected
                self.device = torch.device("cuda", torch.cuda.current_device())
            if int(run["batch_size"]) % world_size:
                raise ConfigError(
                    f"run.batch_size {run['batch_size']} is the global batch and must divide evenly over the "
                    f"{world_size} processes; use a multiple of {world_size}"
                )
        self.amp_dtype = autocast_dtype(run["precision"], self.device)
        self.steps = int(run["steps"])
        self.batch_size = int(run["batch_size"])
        self.seed = int(run["seed"])

        rng.seed_everything(self.seed + 1000 * rank)
        self.asm: Assembly = assemble(cfg, host, device=self.device)
        if rank:  # assemble() seeded torch with the run seed (same models everywhere); rank-local randomness differs
            rng.seed_everything(self.seed + 1000 * rank)
        info = self.asm.info
        self.info = info
        self.latent_distribution = getattr(self.asm.arch, "latent_distribution", "normal")
        self.latent_dim = generator_latent_dim(self.asm.generator)
        self.channels_last = bool(train["channels_last"]) and self.device.type == "cuda" and info.kind == "image"
        mf = torch.channels_last if self.channels_last else torch.contiguous_format
        # Module.to(device, memory_format=...) is valid at runtime; the torch stubs lack that overload.
        self.G = self.asm.generator.to(self.device, memory_format=mf)  # type: ignore[call-overload]
        self.D = self.asm.discriminator.to(self.device, memory_format=mf)  # type: ignore[call-overload]
        if train.get("sync_batchnorm") and world_size > 1:
            self.G = nn.SyncBatchNorm.convert_sync_batchnorm(self.G)
            self.D = nn.SyncBatchNorm.convert_sync_batchnorm(self.D)
            check_sync_batchnorm(self.D, self.device)
            check_sync_batchnorm(self.G, self.device)
        # DDP (or another wrapper) for the update; the raw modules stay reachable for checkpoints.
        self.G_train = wrap_models(self.G) if wrap_models else self.G
        self.D_train = wrap_models(self.D) if wrap_models else self.D
        betas = tuple(train["betas"])
        fused = self.device.type == "cuda"
        fp16 = run["precision"] == "fp16"
        self.nets = Networks(
            self.G, self.D, self.G_train, self.D_train,
            torch.optim.Adam(self.G.parameters(), lr=train["lr_g"], betas=betas, fused=fused),
            torch.optim.Adam(self.D.parameters(), lr=train["lr_d"], betas=betas, fused=fused),
            torch.amp.GradScaler(self.device.type, enabled=fp16),
            torch.amp.GradScaler(self.device.type, enabled=fp16),
        )
        self.ema = EMA(self.G, float(train["ema_decay"]), int(train["ema_start"])) if train["ema"] else None
        self.n_critic = int(train["n_critic"])
        self.lr_g, self.lr_d = float(train["lr_g"]), float(train["lr_d"])
        self.lr_schedule = (str(train["lr_schedule"]), int(train["lr_warmup"]), float(train["lr_final"]))
        self.lr_scheduled = self.lr_schedule[:2] != ("constant", 0)  # else the rates never change
        self.num_classes = self.asm.num_classes
        # One global latent stream, identical on every rank: each rank keeps its slice.
        self.latents = LatentSampler(generator_training_latent_dim(self.G), self.latent_distribution, self.num_classes, self.device,
                                     self.seed, rank, world_size)
        self.step = 0
        self.wall_before = 0.0
        position = None
        if resume:
            # On the CPU: RNG states must stay CPU tensors; load_state_dict moves weights to the device.
            state, path = ckpt.load_latest(self.run_dir, map_location="cpu")
            self._load_state(state)
            if rank:  # the checkpoint holds rank 0's RNG states; other ranks derive their own
                rng.seed_everything(self.seed + 1000 * rank + 7919 * self.step)
            position = state.get("data")
            self.resumed_from = path
        assert self.asm.data is not None
        self.batches = BatchSource(
            self.asm.data,
            batch_size=self.batch_size // world_size if world_size > 1 else self.batch_size,
            device=self.device,
            seed=self.seed,
            position=position,
            device_limit_mb=float(train["device_data_limit_mb"]),
            num_workers=int(train["num_workers"]),
            rank=rank,
            world_size=world_size,
            labels=bool(self.num_classes),
        )
        self.gan_step = GanStep(
            self.asm, self.nets, self.batches, self.latents, n_critic=self.n_critic,
            batch_size=self.batch_size // world_size if world_size > 1 else self.batch_size,
            total_steps=self.steps, device=self.device, amp_dtype=self.amp_dtype, channels_last=self.channels_last,
            lr_d=float(train["lr_d"]), betas=(float(betas[0]), float(betas[1])), host=host,
        )
        self.gan_step.step = self.step
        g = torch.Generator().manual_seed(self.seed + 424242)
        n_fixed = int(train["num_samples"]) * (16 if info.kind == "vector" else 1)
        self.fixed_z = sample_latent(n_fixed, self.latent_dim, self.latent_distribution, torch.device("cpu"), g).to(self.device)
        # Sample grids of a conditional generator: one row per class, in class order.
        self.fixed_labels = (torch.arange(n_fixed, device=self.device) % self.num_classes) if self.num_classes else None
        self._acc = torch.zeros(3, device=self.device)  # loss_d, loss_g, penalty
        self._acc_steps = 0
        self._bad = torch.full((2,), -1, dtype=torch.long, device=self.device)
        self._step_dev = torch.tensor(self.step, dtype=torch.long, device=self.device)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {
            "step": self.step,
            "ganzoo_version": __version__,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "ema": self.ema.shadow.state_dict() if self.ema else None,
            "opt_g": self.nets.opt_g.state_dict(),
            "opt_d": self.nets.opt_d.state_dict(),
            "scaler_g": self.nets.scaler_g.state_dict(),
            "scaler_d": self.nets.scaler_d.state_dict(),
            "mitigations": {m.name: m.state_dict() for m in self.asm.mitigations if m.state_dict()},
            "rng": rng.capture(),
            "latent_rng": self.latents.rng.get_state(),
            "data": self.batches.state(),
            "data_info": info_to_dict(self.info),
            "latent_dim": self.latent_dim,
            "latent_distribution": self.latent_distribution,
            "config": self.cfg.to_dict(),
            "wall_time": self.wall_before + (time.perf_counter() - self._t_start if hasattr(self, "_t_start") else 0.0),
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        if self.ema is not None:
            if state.get("ema") is not None:
                self.ema.shadow.load_state_dict(state["ema"])
            else:
                self.ema.shadow.load_state_dict(state["generator"])
        self.nets.opt_g.load_state_dict(state["opt_g"])
        self.nets.opt_d.load_state_dict(state["opt_d"])
        self.nets.scaler_g.load_state_dict(state["scaler_g"])
        self.nets.scaler_d.load_state_dict(state["scaler_d"])
        saved = state.get("mitigations") or {}
        for m in self.asm.mitigations:
            if m.name in saved:
                m.load_state_dict(saved[m.name])
        rng.restore(state["rng"])
        self.latents.rng.set_state(state["latent_rng"].cpu())
        self.step = int(state["step"])
        self.wall_before = float(state.get("wall_time", 0.0))

    # ------------------------------------------------------------------ one step
    def train_step(self) -> None:
        self.gan_step.step = self.step
        if self.lr_scheduled:
            factor = lr_factor(self.step, self.steps, *self.lr_schedule)
            set_lr(self.nets.opt_g, self.lr_g * factor)
            set_lr(self.nets.opt_d, self.lr_d * factor)
        d_mean, g, pen = self.gan_step()
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        self._step_dev += 1
        finite = torch.stack([torch.isfinite(d_mean), torch.isfinite(g)])
        self._bad = torch.where((self._bad < 0) & ~finite, self._step_dev, self._bad)
        self._acc += torch.stack([d_mean, g, pen])
        self._acc_steps += 1
        self.step += 1

    # ------------------------------------------------------------------ outputs
    @property
    def sampling_generator(self) -> nn.Module:
        return self.ema.shadow if self.ema is not None else self.G

    @torch.no_grad()
    def write_samples(self, logger: RunLogger) -> Path | None:
        if not self.is_main:
            return None
        G = self.sampling_generator
        was_training = G.training
        G.eval()
        labels = self.fixed_labels.split(256) if self.fixed_labels is not None else [None] * len(self.fixed_z.split(256))
        fake = torch.cat([generate(G, z, y) for z, y in zip(self.fixed_z.split(256), labels)]).float()
        G.train(was_training)
        real = None
        if self.info.kind == "vector":
            n = min(len(self.asm.data), 2000)  # type: ignore[arg-type]
            idx = torch.linspace(0, len(self.asm.data) - 1, n).long()  # type: ignore[arg-type]
            real = torch.stack([self.asm.data.dataset[int(i)][0] for i in idx])  # type: ignore[union-attr]
        path = save_samples(self.run_dir / "samples" / f"step-{self.step:08d}.png", fake, self.info, real, title=f"step {self.step}")
        if self.info.kind == "image":
            logger.image("samples", image_grid(fake[:64]), self.step)
        return path

    def check_finite(self) -> None:
        # Under DDP every rank must agree (a collective: called at the same points on all ranks).
        bad = (dist_sync.earliest_step(self._bad.clone()) if self.world_size > 1 else self._bad).tolist()
        for which, s in zip(("loss_d", "loss_g"), bad):
            if s >= 0:
                kept = ckpt.list_checkpoints(self.run_dir)
                last = f"keeps its last good checkpoint {kept[0][1]}" if kept else "wrote no checkpoint"
                raise TrainingDivergedError(
                    f"{which} became NaN or infinite at step {s}; the run stopped and {last}. Try a lower "
                    f"learning rate (--set train.lr_d=..., train.lr_g=...)"
                    + (" or --precision fp32" if self.amp_dtype is not None else "")
                )

    def save_checkpoint(self) -> Path | None:
        self.check_finite()
        path = None
        if self.is_main:  # the state is identical on every rank (global data position, rank 0's RNGs)
            path = ckpt.save(self.run_dir, self.state_dict(), keep=int(self.cfg.train["keep_checkpoints"]))
            self._observe("ganzoo_checkpoint_saved", run_dir=self.run_dir, step=self.step, path=path)
        if self.world_size > 1:  # the checkpoint is complete before any rank goes on or exits
            dist_sync.barrier()
        return path

    def _metrics_row(self, imgs: int, seconds: float) -> dict[str, Any]:
        acc = dist_sync.mean_(self._acc.clone()) if self.world_size > 1 else self._acc  # losses of the global batch
        vals = (acc / max(self._acc_steps, 1)).tolist()
        self.check_finite()
        self._acc.zero_()
        self._acc_steps = 0
        row: dict[str, Any] = {"step": self.step, "loss_d": vals[0], "loss_g": vals[1]}
        if vals[2] != 0.0:
            row["penalty"] = vals[2]
        if self.lr_scheduled:
            row["lr_g"] = self.nets.opt_g.param_groups[0]["lr"]
        row["img_per_s"] = imgs / seconds if seconds > 0 else 0.0
        row["wall_time"] = self.wall_before + (time.perf_counter() - self._t_start)
        return row

    def _status_extra(self) -> dict[str, Any]:
        """What status.json says besides status and step: failing observer hooks, divergence warnings."""
        extra: dict[str, Any] = {}
        failures = getattr(self.host, "observer_failures", None)
        if failures:
            extra["plugin_failures"] = list(failures)
        if self.divergence.warning:
            extra["warnings"] = [self.divergence.warning]
        return extra

    def _observe(self, hook: str, **kwargs: Any) -> None:
        """Call an observer hook; a plugin failing in it is reported once and recorded in status.json."""
        if call_observer(self.host, hook, **kwargs) and hook != "ganzoo_train_end":
            write_status(self.run_dir, "running", self.step, best_effort=True, **self._status_extra())

    @torch.no_grad()
    def _sample_magnitude(self) -> float:
        G = self.G
        was_training = G.training
        G.eval()
        try:
            labels = self.fixed_labels[:16] if self.fixed_labels is not None else None
            return float(generate(G, self.fixed_z[:16], labels).float().abs().max())
        finally:
            G.train(was_training)

    def _watch(self, row: dict[str, Any]) -> None:
        """At the logging interval: warn once (stderr, metrics log, status) when the run explodes without
        NaN; stop at train.max_loss."""
        warning = self.divergence.observe(row, self._sample_magnitude())
        if warning and self.is_main:
            print(f"Warning: {warning}", file=sys.stderr)
            write_status(self.run_dir, "running", self.step, **self._status_extra())

    # ------------------------------------------------------------------ the loop
    def run(self) -> str:
        """Train to ``run.steps``. Returns ``completed`` or ``interrupted`` (after a checkpoint)."""
        train = self.cfg.train
        log_every = int(train["log_every"])
        sample_every = int(train["sample_every"])
        ckpt_every = int(train["checkpoint_every"])
        eval_every = int(train.get("eval_every", 0))
        if self.is_main:
            self.run_dir.mkdir(parents=True, exist_ok=True)
        logger = RunLogger(
            self.run_dir, tensorboard=bool(train["tensorboard"]), quiet=self.quiet,
            total_steps=self.steps, start_step=self.step, enabled=self.is_main,
        )
        logger.truncate_after(self.step)
        evaluator = None
        if eval_every and self.is_main:
            evaluator = TrainingEvaluator(self.cfg, self.run_dir, self.info, device=self.device)
        self.divergence = DivergenceWatch(self.info.value_range, float(train.get("max_loss", 0.0)))
        self._t_start = time.perf_counter()
        t_int, imgs = time.perf_counter(), 0
        status = "completed"
        if self.is_main:
            write_status(self.run_dir, "running", self.step)
        try:
            if self.is_main:  # plugins' hooks run on rank 0 only, like every other output
                self._observe("ganzoo_train_start", run_dir=self.run_dir, config=self.cfg.to_dict(), step=self.step)
            with _StopRequest() as stop:
                while self.step < self.steps:
                    self.train_step()
                    imgs += self.batch_size * self.n_critic
                    s = self.step
                    if s % log_every == 0 or s == self.steps:
                        row = self._metrics_row(imgs, time.perf_counter() - t_int)
                        t_int, imgs = time.perf_counter(), 0
                        logger.log(row)
                        self._watch(row)
                        if self.is_main:
                            self._observe("ganzoo_log", run_dir=self.run_dir, step=s, metrics=row)
                        logger.progress(s, {"loss_d": f"{row['loss_d']:.3f}", "loss_g": f"{row['loss_g']:.3f}", "img/s": f"{row['img_per_s']:.0f}"})
                    elif not self.quiet and s % 10 == 0:
                        logger.progress(s)
                    if sample_every and s % sample_every == 0:
                        self.write_samples(logger)
                    if evaluator is not None and s % eval_every == 0:
                        evaluator.evaluate(self, logger)
                    if ckpt_every and s % ckpt_every == 0 and s != self.steps:
                        self.save_checkpoint()
                    stop_now = stop.signum is not None
                    if self.world_size > 1:  # all ranks stop after the same step (a signal may reach one first)
                        stop_now = dist_sync.any_rank(stop_now)
                    if stop_now and self.step < self.steps:
                        status = "interrupted"
                        break
            self.save_checkpoint()
            if status == "completed":
                self.write_samples(logger)
                if evaluator is not None and self.step % eval_every != 0:
                    evaluator.evaluate(self, logger)
        except BaseException as exc:
            if self.is_main:  # best effort: on a full disk the original error matters more
                error = str(exc) if isinstance(exc, TrainingDivergedError) else f"{type(exc).__name__}: {exc}"
                write_status(self.run_dir, "failed", self.step, best_effort=True, error=error, **self._status_extra())
                self._observe("ganzoo_train_end", run_dir=self.run_dir, step=self.step, status="failed")
                if getattr(self.host, "observer_failures", None):
                    write_status(self.run_dir, "failed", self.step, best_effort=True, error=error, **self._status_extra())
            with contextlib.suppress(Exception):
                logger.close()
            raise
        logger.close()
        if self.is_main:
            wall = self.wall_before + time.perf_counter() - self._t_start
            write_status(self.run_dir, status, self.step, wall_time=wall, **self._status_extra())
            if call_observer(self.host, "ganzoo_train_end", run_dir=self.run_dir, step=self.step, status=status):
                write_status(self.run_dir, status, self.step, best_effort=True, wall_time=wall, **self._status_extra())
        if self.world_size > 1:  # samples and status are written before any rank returns
            dist_sync.barrier()
        self.stop_signal = stop.signum
        return status
