"""The shared training loop: any architecture x loss x mitigations x dataset, on CPU or CUDA.

One step = ``n_critic`` discriminator updates, then one generator update through the fake batch of
the last discriminator update (one generator forward per step, as in pytorch/examples' DCGAN). Losses are accumulated
on the device and read once per logging interval (no per-step host synchronisation).
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ganzoo import __version__
from ganzoo.config import RunConfig
from ganzoo.engine import checkpoint as ckpt
from ganzoo.distributed import sync as dist_sync
from ganzoo.engine import rng
from ganzoo.engine.checks import check_loss
from ganzoo.engine.divergence import DivergenceWatch
from ganzoo.files import write_text, write_text_best_effort
from ganzoo.engine.components import Assembly, assemble, info_to_dict, sample_latent
from ganzoo.engine.data import BatchSource
from ganzoo.engine.device import autocast_dtype, resolve_device
from ganzoo.engine.ema import EMA
from ganzoo.engine.logger import RunLogger
from ganzoo.engine.samples import image_grid, save_samples
from ganzoo.errors import ConfigError, TrainingDivergedError
from ganzoo.plugins import call_observer
from ganzoo.specs import DiscriminatorStep, GeneratorStep

STATUS_FILE = "status.json"


def write_status(run_dir: Path, status: str, step: int, *, best_effort: bool = False, **extra: Any) -> None:
    """Write status.json; ``best_effort`` (failure paths): on a full disk overwrite it in place, never raise."""
    text = json.dumps({"status": status, "step": step, **extra}, indent=2) + "\n"
    if best_effort:
        write_text_best_effort(Path(run_dir) / STATUS_FILE, text)
    else:
        write_text(Path(run_dir) / STATUS_FILE, text)


def read_status(run_dir: Path) -> dict[str, Any]:
    try:
        return json.loads((Path(run_dir) / STATUS_FILE).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return {}


class _StopRequest:
    """Turns SIGINT/SIGTERM into a flag the loop checks after each step."""

    def __init__(self) -> None:
        self.signum: int | None = None
        self._old: dict[int, Any] = {}

    def __enter__(self) -> "_StopRequest":
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
        self.asm: Assembly = assemble(cfg, host)
        if rank:  # assemble() seeded torch with the run seed (same models everywhere); rank-local randomness differs
            rng.seed_everything(self.seed + 1000 * rank)
        info = self.asm.info
        self.info = info
        self.latent_distribution = getattr(self.asm.arch, "latent_distribution", "normal")
        self.latent_dim = int(self.asm.generator.latent_dim)
        self.channels_last = bool(train["channels_last"]) and self.device.type == "cuda" and info.kind == "image"
        mf = torch.channels_last if self.channels_last else torch.contiguous_format
        self.G = self.asm.generator.to(self.device, memory_format=mf)
        self.D = self.asm.discriminator.to(self.device, memory_format=mf)
        if train.get("sync_batchnorm") and world_size > 1:
            self.G = nn.SyncBatchNorm.convert_sync_batchnorm(self.G)
            self.D = nn.SyncBatchNorm.convert_sync_batchnorm(self.D)
            from ganzoo.distributed.context import check_sync_batchnorm

            check_sync_batchnorm(self.D, self.device)
            check_sync_batchnorm(self.G, self.device)
        # DDP (or another wrapper) for the update; the raw modules stay reachable for checkpoints.
        self.G_train = wrap_models(self.G) if wrap_models else self.G
        self.D_train = wrap_models(self.D) if wrap_models else self.D
        betas = tuple(train["betas"])
        fused = self.device.type == "cuda"
        self.opt_g = torch.optim.Adam(self.G.parameters(), lr=train["lr_g"], betas=betas, fused=fused)
        self.opt_d = torch.optim.Adam(self.D.parameters(), lr=train["lr_d"], betas=betas, fused=fused)
        fp16 = run["precision"] == "fp16"
        self.scaler_g = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.scaler_d = torch.amp.GradScaler(self.device.type, enabled=fp16)
        self.ema = EMA(self.G, float(train["ema_decay"]), int(train["ema_start"])) if train["ema"] else None
        self.n_critic = int(train["n_critic"])
        # One global latent stream, identical on every rank: each rank keeps its slice (see _z).
        self.latent_rng = torch.Generator(device=self.device).manual_seed(self.seed * 7 + 3)
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
        )
        g = torch.Generator().manual_seed(self.seed + 424242)
        n_fixed = int(train["num_samples"]) * (16 if info.kind == "vector" else 1)
        self.fixed_z = sample_latent(n_fixed, self.latent_dim, self.latent_distribution, torch.device("cpu"), g).to(self.device)
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
            "opt_g": self.opt_g.state_dict(),
            "opt_d": self.opt_d.state_dict(),
            "scaler_g": self.scaler_g.state_dict(),
            "scaler_d": self.scaler_d.state_dict(),
            "rng": rng.capture(),
            "latent_rng": self.latent_rng.get_state(),
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
        self.opt_g.load_state_dict(state["opt_g"])
        self.opt_d.load_state_dict(state["opt_d"])
        self.scaler_g.load_state_dict(state["scaler_g"])
        self.scaler_d.load_state_dict(state["scaler_d"])
        rng.restore(state["rng"])
        self.latent_rng.set_state(state["latent_rng"].to("cpu") if self.device.type == "cpu" else state["latent_rng"].cpu())
        self.step = int(state["step"])
        self.wall_before = float(state.get("wall_time", 0.0))

    # ------------------------------------------------------------------ pieces of a step
    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=self.amp_dtype)

    def _fp32(self) -> contextlib.AbstractContextManager[Any]:
        if self.amp_dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, enabled=False)

    def _z(self, n: int) -> torch.Tensor:
        """``n`` latents for this rank: its slice ``[rank::world_size]`` of a global draw of
        ``n * world_size`` (so a DDP run consumes the latent stream exactly like one process)."""
        if self.world_size == 1:
            return sample_latent(n, self.latent_dim, self.latent_distribution, self.device, self.latent_rng)
        z = sample_latent(n * self.world_size, self.latent_dim, self.latent_distribution, self.device, self.latent_rng)
        return z[self.rank :: self.world_size]

    def _prepare(self, x: torch.Tensor) -> torch.Tensor:
        for m in self.asm.mitigations:
            x = m.prepare_batch(x)
        if self.channels_last and x.dim() == 4:
            x = x.contiguous(memory_format=torch.channels_last)
        return x

    def discriminator_objective(self, D: nn.Module, real: torch.Tensor, fake: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Full D loss for raw ``real`` and ``fake`` batches: (total, penalty part)."""
        rp, fp = self._prepare(real), self._prepare(fake)
        with self._autocast():
            rl, fl = D(rp), D(fp)
        loss = check_loss(self.asm.loss.discriminator_loss(rl.float(), fl.float()), self.host, self.cfg.run["loss"],
                          "discriminator_loss")
        extra = torch.zeros((), device=self.device)
        with self._fp32():
            pen = self.asm.loss.penalty(D, rp.float(), fp.float())
            if pen is not None:
                extra = extra + pen
            ctx = DiscriminatorStep(self.step, D, rp, fp, rl, fl)
            for m in self.asm.mitigations:
                r = m.discriminator_regularizer(ctx)
                if r is not None:
                    extra = extra + r
        return loss + extra, extra

    def _d_update(self, keep_fake: bool = False) -> tuple[torch.Tensor, torch.Tensor, tuple[torch.Tensor, torch.Tensor] | None]:
        """One D update. With ``keep_fake`` the fake batch keeps its graph and is returned as
        ``(z, fake)`` for the G update (one generator forward per step, as pytorch/examples' DCGAN)."""
        real = self.batches.next()
        z = self._z(real.shape[0])
        # A fake kept for the G update goes through G_train (DDP averages G's gradients); the others
        # through the raw G: a forward without backward needs no DDP bookkeeping.
        with torch.set_grad_enabled(keep_fake), self._autocast():
            fake = (self.G_train if keep_fake else self.G)(z)
        total, pen = self.discriminator_objective(self.D_train, real, fake.detach().float())
        self.opt_d.zero_grad(set_to_none=True)
        self.scaler_d.scale(total).backward()
        self.scaler_d.step(self.opt_d)
        self.scaler_d.update()
        self.asm.loss.after_discriminator_step(self.D)
        return total.detach(), pen.detach(), ((z, fake) if keep_fake else None)

    def _g_update(self, reuse: tuple[torch.Tensor, torch.Tensor] | None = None) -> torch.Tensor:
        self.D.requires_grad_(False)
        try:
            if reuse is not None:
                z, fake = reuse
            else:
                n = self.batch_size // self.world_size if self.world_size > 1 else self.batch_size
                z = self._z(n)
                with self._autocast():
                    fake = self.G_train(z)
            fake = fake.float()
            gstep = GeneratorStep(
                step=self.step,
                generator=self.G,
                discriminator=self.D,
                z=z,
                fake=fake,
                loss=self.asm.loss,
                sample_real=self.batches.next,
                sample_latent=self._z,
                prepare=self._prepare,
                discriminator_objective=lambda D, r, f: self.discriminator_objective(D, r, f)[0],
                lr_d=float(self.cfg.train["lr_d"]),
                betas_d=tuple(self.cfg.train["betas"]),  # type: ignore[arg-type]
            )
            # The raw D: its parameters are frozen here, so DDP has nothing to reduce (and mitigations
            # such as unrolling get the module itself); G's gradients are averaged through G_train.
            D_for_g: nn.Module = self.D
            for m in self.asm.mitigations:
                D_for_g = m.discriminator_for_generator(D_for_g, gstep)
            with self._autocast():
                fl = D_for_g(self._prepare(fake))
            loss = check_loss(self.asm.loss.generator_loss(fl.float()), self.host, self.cfg.run["loss"], "generator_loss")
            for m in self.asm.mitigations:
                r = m.generator_regularizer(gstep)
                if r is not None:
                    loss = loss + r
            self.opt_g.zero_grad(set_to_none=True)
            self.scaler_g.scale(loss).backward()
            self.scaler_g.step(self.opt_g)
            self.scaler_g.update()
        finally:
            self.D.requires_grad_(True)
        if self.ema is not None:
            self.ema.update(self.G, self.step)
        return loss.detach()

    def train_step(self) -> None:
        self.G_train.train()
        self.D_train.train()
        d_total = torch.zeros((), device=self.device)
        pen_total = torch.zeros((), device=self.device)
        reuse = None
        for i in range(self.n_critic):
            d, p, reuse = self._d_update(keep_fake=i == self.n_critic - 1)
            d_total = d_total + d
            pen_total = pen_total + p
        g = self._g_update(reuse)
        d_mean = d_total / self.n_critic
        self._step_dev += 1
        finite = torch.stack([torch.isfinite(d_mean), torch.isfinite(g)])
        self._bad = torch.where((self._bad < 0) & ~finite, self._step_dev, self._bad)
        self._acc += torch.stack([d_mean, g, pen_total / self.n_critic])
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
        fake = torch.cat([G(z) for z in self.fixed_z.split(256)]).float()
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
            return float(G(self.fixed_z[:16]).float().abs().max())
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
            from ganzoo.metrics.during_training import TrainingEvaluator

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


def iter_batches(t: Trainer) -> Iterator[torch.Tensor]:  # pragma: no cover - convenience for notebooks
    while True:
        yield t.batches.next()
