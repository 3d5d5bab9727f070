"""Each mitigation's effect on the models or the update, checked on tiny hand-built networks."""

from __future__ import annotations

import copy
from typing import Any

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils import parametrize

from ganzoo import Batch, BatchContext, DataInfo, MitigationSpec, SetupContext
from ganzoo.config import resolve
from ganzoo.engine.components import HeadStack, _attach_head_features, assemble, combine_batch_needs, pack_batch, packed_info
from ganzoo.errors import IncompatibleError
from ganzoo.plugins import get_host
from ganzoo.specs import Discriminator, DiscriminatorStep, GeneratorStep

NAMES = ["minibatch-discrimination", "minibatch-stddev", "mode-seeking", "pacgan", "r1", "spectral-norm", "unrolled"]


def mitigation(name: str, **options: Any) -> Any:
    return get_host().mitigations.get(name).with_options(options)


def mlp_d(in_dim: int = 2, hidden: int = 8, batch_norm: bool = False) -> Discriminator:
    layers: list[nn.Module] = [nn.Linear(in_dim, hidden)]
    if batch_norm:
        layers.append(nn.BatchNorm1d(hidden))
    layers += [nn.LeakyReLU(0.2), nn.Linear(hidden, hidden), nn.LeakyReLU(0.2)]
    return Discriminator(nn.Sequential(*layers), hidden)


VECTORS = DataInfo(name="v", kind="vector", shape=(2,))


def setup(batch_size: int = 16, info: DataInfo = VECTORS) -> SetupContext:
    """What the engine passes to the set-up hooks."""
    return SetupContext(info=info, batch_size=batch_size, total_steps=10, device=torch.device("cpu"),
                        loss=get_host().losses.get("ns-gan"))


def finished(d: Discriminator, names: list[str], sets: dict[str, Any] | None = None) -> Discriminator:
    """``d`` as the engine finishes it for the mitigations ``names`` (in order): every head feature
    attached first (``HeadStack``), then each ``wrap_discriminator``."""
    specs = [mitigation(n, **(sets or {}).get(n, {})) for n in names]
    ctx = setup()
    _attach_head_features(d, specs, ctx, "test-arch")
    for spec in specs:
        d = spec.wrap_discriminator(d, ctx)
    return d


def conv_d() -> Discriminator:
    features = nn.Sequential(nn.Conv2d(3, 8, 4, 2, 1), nn.LeakyReLU(0.2), nn.Conv2d(8, 8, 4, 2, 1), nn.Flatten())
    return Discriminator(features, 8 * 4 * 4)


def assembled(batch_size: int, mitigations: list[str], sets: dict[str, Any] | None = None) -> Any:
    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "batch_size": batch_size,
                    "mitigations": mitigations},
            "arch": {"hidden": 16, "latent_dim": 4}, "mitigation": sets or {}}
    return assemble(resolve(user, get_host()), get_host())


def sn_layers(module: nn.Module) -> list[nn.Module]:
    return [m for m in module.modules() if isinstance(m, (nn.Linear, nn.Conv2d)) and parametrize.is_parametrized(m, "weight")]


# --------------------------------------------------------------------------- registry


def test_all_registered_with_paper_defaults() -> None:
    host = get_host()
    assert set(NAMES) <= set(host.mitigations.names())
    for name in NAMES:
        entry = host.mitigations.entry(name)
        assert entry.plugin == "ganzoo-mitigations"
        assert isinstance(entry.spec, MitigationSpec)
        assert entry.spec.summary and entry.spec.reference
    defaults = {n: host.mitigations.get(n).defaults() for n in NAMES}
    assert defaults == {
        "minibatch-discrimination": {"num_kernels": 100, "kernel_dim": 5},
        "minibatch-stddev": {"group_size": 4},
        "mode-seeking": {"weight": 1.0, "eps": 1e-5},
        "pacgan": {"pack": 2},
        "r1": {"gamma": 10.0, "every": 1},
        "spectral-norm": {"n_power_iterations": 1, "generator": False},
        "unrolled": {"steps": 5, "second_order": True, "optimizer": "adam", "lr": 0.0},
    }
    assert not host.mitigations.get("r1").batch_norm_ok
    assert all(host.mitigations.get(n).batch_norm_ok for n in NAMES if n != "r1")


# --------------------------------------------------------------------------- spectral norm


def test_spectral_norm_normalises_every_layer_of_d() -> None:
    torch.manual_seed(0)
    for d, x in ((mlp_d(), torch.randn(16, 2)), (conv_d(), torch.randn(4, 3, 16, 16))):
        with torch.no_grad():
            for p in d.parameters():
                p.mul_(5.0)  # start far from norm 1
        d = mitigation("spectral-norm").wrap_discriminator(d, setup())
        layers = sn_layers(d)
        assert len(layers) == sum(isinstance(m, (nn.Linear, nn.Conv2d)) for m in d.modules()) >= 3
        assert d.head in layers
        d.train()
        for _ in range(30):  # power iterations
            d(x)
        for m in layers:
            w = m.weight.detach()
            sigma = torch.linalg.matrix_norm(w.reshape(w.shape[0], -1), 2)
            assert sigma.item() == pytest.approx(1.0, rel=1e-2), type(m)
            original = m.parametrizations.weight.original
            assert torch.linalg.matrix_norm(original.reshape(w.shape[0], -1), 2) > 2


def test_spectral_norm_generator_option_and_changes_generator() -> None:
    off, on = mitigation("spectral-norm"), mitigation("spectral-norm", generator=True, n_power_iterations=2)
    assert off.changes_generator is False and on.changes_generator is True
    g = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.ConvTranspose2d(8, 3, 4))
    assert not sn_layers(off.wrap_generator(copy.deepcopy(g), setup()))
    wrapped = on.wrap_generator(g, setup())
    assert parametrize.is_parametrized(wrapped[0], "weight") and parametrize.is_parametrized(wrapped[2], "weight")
    assert wrapped[2].parametrizations.weight[0].n_power_iterations == 2


@pytest.mark.parametrize("order", [
    ["spectral-norm", "minibatch-discrimination", "minibatch-stddev"],
    ["minibatch-discrimination", "spectral-norm", "minibatch-stddev"],
    ["minibatch-discrimination", "minibatch-stddev", "spectral-norm"],
])
def test_spectral_norm_covers_heads_of_other_mitigations_in_any_order(order: list[str]) -> None:
    d_model = finished(mlp_d(), order, {"minibatch-discrimination": {"num_kernels": 3, "kernel_dim": 2}})
    head = d_model.head
    assert isinstance(head, HeadStack) and [type(a).__name__ for a in head.augmenters] == [
        "MinibatchDiscrimination", "MinibatchStdDev"]
    linears = [m for m in d_model.modules() if isinstance(m, nn.Linear)]
    assert len(linears) == 4  # two feature layers, minibatch discrimination's T, the final layer
    assert all(parametrize.is_parametrized(m, "weight") for m in linears)
    assert head.out.in_features == 8 + 3 + 1
    assert d_model(torch.randn(8, 2)).shape == (8,)


# --------------------------------------------------------------------------- minibatch discrimination


def test_minibatch_discrimination_logit_depends_on_other_samples() -> None:
    torch.manual_seed(0)
    plain = mlp_d()
    mbd = finished(copy.deepcopy(plain), ["minibatch-discrimination"], {"minibatch-discrimination": {"num_kernels": 10, "kernel_dim": 3}})
    assert mbd.head.out.in_features == 8 + 10
    assert mbd.features is plain.features or all(
        torch.equal(a, b) for a, b in zip(mbd.features.parameters(), plain.features.parameters()))
    x = torch.randn(6, 2)
    x2 = x.clone()
    x2[5] = x2[0] + 0.01  # move another sample close to sample 0
    with torch.no_grad():
        assert torch.equal(plain(x)[:5], plain(x2)[:5])  # plain head: per-sample
        before, after = mbd(x), mbd(x2)
    assert (before[0] - after[0]).abs() > 1e-4  # sample 0's logit changed through sample 5


def test_minibatch_discrimination_feature_values() -> None:
    from ganzoo_mitigations.minibatch_discrimination import MinibatchDiscrimination

    layer = MinibatchDiscrimination(3, num_kernels=2, kernel_dim=2)
    with torch.no_grad():
        layer.T.weight.copy_(torch.eye(4, 3))  # kernel 0 = (x0, x1), kernel 1 = (x2, 0)
        layer.bias.fill_(0.5)
    x = torch.tensor([[0.0, 0.0, 0.0], [1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    out = layer(x)
    assert out.shape == (3, 5) and torch.equal(out[:, :3], x)
    e = torch.exp
    expected0 = torch.tensor([e(torch.tensor(-1.0)) + e(torch.tensor(-3.0)), e(torch.tensor(-2.0)) + 1.0]) + 0.5
    torch.testing.assert_close(out[0, 3:], expected0)
    # the L1 distances come out the same twice-differentiably (needed by R1 / WGAN-GP / unrolling)
    xr = x.clone().requires_grad_(True)
    (g,) = torch.autograd.grad(layer(xr).sum(), xr, create_graph=True)
    g.pow(2).sum().backward()
    assert layer.T.weight.grad is not None and torch.isfinite(layer.T.weight.grad).all()


# --------------------------------------------------------------------------- minibatch stddev


def test_minibatch_stddev_appends_exactly_the_group_std() -> None:
    d = Discriminator(nn.Identity(), 3)
    d = finished(d, ["minibatch-stddev"])
    assert isinstance(d.head, HeadStack) and d.head.out.in_features == 4
    x = torch.arange(24, dtype=torch.float32).reshape(8, 3) ** 1.5
    stat = d.head.augmenters[0](x)
    assert torch.equal(stat[:, :3], x)
    # StyleGAN grouping: G = 4, sample i belongs to group i mod 2.
    for i in range(8):
        group = x[i % 2::2]
        expected = (group.var(dim=0, unbiased=False) + 1e-8).sqrt().mean()
        assert stat[i, 3].item() == pytest.approx(expected.item(), rel=1e-6)
    # a batch smaller than the group uses the whole batch (min(G, N))
    small = d.head.augmenters[0](x[:2])
    assert small[0, 3].item() == pytest.approx((x[:2].var(0, unbiased=False) + 1e-8).sqrt().mean().item(), rel=1e-6)
    with torch.no_grad():
        d.head.out.weight.copy_(torch.tensor([[0.0, 0.0, 0.0, 1.0]]))
        d.head.out.bias.zero_()
    torch.testing.assert_close(d(x), stat[:, 3])


def test_minibatch_stddev_check_rejects_indivisible_batches() -> None:
    spec = mitigation("minibatch-stddev")
    for ok in (2, 4, 8, 12, 256):
        spec.check(setup(ok))
        combine_batch_needs(ok, [("minibatch-stddev", spec.batch_needs(setup(ok)))])
    spec.check(setup(10))  # the engine checks the combined batch needs, once
    assert spec.batch_needs(setup(10)).group == 4
    with pytest.raises(IncompatibleError, match=r"batch size 10.*group size 4"):
        combine_batch_needs(10, [("minibatch-stddev", spec.batch_needs(setup(10)))])
    with pytest.raises(IncompatibleError, match="group_size"):
        assembled(10, ["minibatch-stddev"])


@pytest.mark.parametrize("order", [["pacgan", "minibatch-stddev"], ["minibatch-stddev", "pacgan"]])
def test_minibatch_stddev_with_pacgan_checks_the_packed_batch_in_any_order(order: list[str]) -> None:
    sets = {"pacgan": {"pack": 3}}
    assembled(24, order, sets)  # D batch 8: groups of 4
    assembled(6, order, sets)   # D batch 2: one group of min(4, 2)
    with pytest.raises(IncompatibleError, match=r"batch size 30 packed by 3 gives discriminator batches of 10.*multiple of 12"):
        assembled(30, order, sets)  # 30 is fine for each alone, not together
    with pytest.raises(IncompatibleError, match="not divisible by the pack size 3"):
        assembled(8, order, sets)


# --------------------------------------------------------------------------- pacgan


def test_pacgan_packs_images_on_channels_and_builds_d_for_them() -> None:
    pac = mitigation("pacgan", pack=3)
    info = DataInfo(name="img", kind="image", shape=(3, 16, 16))
    needs = pac.batch_needs(setup(12, info))
    assert needs.pack == 3
    d_info = packed_info(info, needs.pack)
    assert d_info.shape == (9, 16, 16) and info.shape == (3, 16, 16)
    x = torch.randn(12, 3, 16, 16)
    ctx = BatchContext(0, 10, torch.device("cpu"), info, "real", "discriminator")
    assert torch.equal(pac.transform(x, ctx), x)  # the engine packs, not the mitigation
    packed = pack_batch(x, needs.pack)
    assert packed.shape == (4, 9, 16, 16)
    assert torch.equal(packed[1, 0:3], x[3]) and torch.equal(packed[1, 3:6], x[4]) and torch.equal(packed[1, 6:9], x[5])
    if "dcgan" in get_host().architectures:
        arch = get_host().architectures.get("dcgan").with_options({"width": 4, "latent_dim": 8})
        d = arch.build_discriminator(d_info, batch_norm=True)
        first = next(m for m in d.modules() if isinstance(m, nn.Conv2d))
        assert first.in_channels == 9
        assert d(packed).shape == (4,)


def test_pacgan_packs_vectors_and_the_engine_builds_d_for_them() -> None:
    pac = mitigation("pacgan")
    pack = pac.batch_needs(setup()).pack
    assert packed_info(VECTORS, pack).shape == (4,)
    x = torch.arange(12.0).reshape(6, 2)
    assert torch.equal(pack_batch(x, pack), torch.tensor([[0.0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10, 11]]))
    asm = assembled(8, ["pacgan"], {"pacgan": {"pack": 4}})
    assert asm.d_info.shape == (8,) and asm.info.shape == (2,) and asm.batch.pack == 4
    first = next(m for m in asm.discriminator.modules() if isinstance(m, nn.Linear))
    assert first.in_features == 8
    assert asm.discriminator(pack_batch(torch.randn(8, 2), asm.batch.pack)).shape == (2,)


def test_pacgan_batch_not_divisible_names_both_numbers() -> None:
    with pytest.raises(IncompatibleError) as exc:
        assembled(10, ["pacgan"], {"pacgan": {"pack": 3}})
    msg = str(exc.value)
    assert "batch size 10" in msg and "pack size 3" in msg and "9 or 12" in msg and "run.batch_size=12" in msg


# --------------------------------------------------------------------------- unrolled


def _gan(batch_norm: bool = True) -> tuple[nn.Module, Discriminator]:
    torch.manual_seed(0)
    g = nn.Sequential(nn.Linear(3, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, 2))
    g.latent_dim = 3  # type: ignore[assignment]
    d = mitigation("spectral-norm").wrap_discriminator(mlp_d(batch_norm=batch_norm), setup())  # SN adds u/v buffers
    return g, d


def _gstep(g: nn.Module, d: nn.Module, seed: int = 1, r1: bool = False) -> GeneratorStep:
    """A generator step whose D objective is ns-gan, plus R1 when ``r1`` (a penalty makes second-order
    unrolling third-order; BatchNorm has no third derivative, so the engine never mixes the two)."""
    gen = torch.Generator().manual_seed(seed)
    loss = get_host().losses.get("ns-gan")

    def objective(D: nn.Module, real: Batch, fake: Batch) -> torch.Tensor:
        total = loss.discriminator_loss(D(real.x), D(fake.x))
        if r1:
            total = total + mitigation("r1").discriminator_regularizer(
                DiscriminatorStep(0, 10, torch.device("cpu"), VECTORS, D, real.x, fake.x, torch.zeros(0), torch.zeros(0)))
        return total

    z = torch.randn(16, 3, generator=gen)
    return GeneratorStep(
        step=0, total_steps=10, device=torch.device("cpu"), info=VECTORS,
        generator=g, discriminator=d, z=z, fake=g(z), loss=loss,
        sample_real=lambda: Batch(torch.randn(16, 2, generator=gen) * 0.5 + 1.0),
        sample_latent=lambda n: (torch.randn(n, 3, generator=gen), None),
        prepare=lambda x, ctx: x, discriminator_objective=objective, lr_d=0.05, betas_d=(0.5, 0.999),
    )


@pytest.mark.parametrize("second_order", [True, False])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("batch_norm", [True, False])
def test_unrolled_leaves_d_untouched_and_looks_ahead(second_order: bool, optimizer: str, batch_norm: bool) -> None:
    g, d = _gan(batch_norm)
    d.train()
    d.requires_grad_(False)  # as the engine does during the generator update
    state = copy.deepcopy(d.state_dict())
    step = _gstep(g, d, r1=not batch_norm)  # (its G(z) moves G's statistics, as the engine's does)
    g_buffers = copy.deepcopy(dict(g.named_buffers()))
    spec = mitigation("unrolled", steps=3, second_order=second_order, optimizer=optimizer)
    dk = spec.discriminator_for_generator(d, step)
    g.zero_grad()
    F.softplus(-dk(step.fake)).mean().backward()
    after = d.state_dict()
    assert state.keys() == after.keys() and any("_u" in k for k in state)
    assert any("running_mean" in k for k in state) == batch_norm
    for k in state:
        assert torch.equal(state[k], after[k]), k  # parameters AND buffers bitwise unchanged
    assert all(p.grad is None for p in d.parameters())
    for n, b in g.named_buffers():
        assert torch.equal(b, g_buffers[n]), n  # the extra fakes did not move G's BatchNorm statistics
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in g.parameters())
    x = torch.randn(16, 2)
    with torch.no_grad():
        assert (dk(x) - d(x)).abs().max() > 1e-3  # it looked ahead


def test_unrolled_second_order_differs_from_first_order() -> None:
    grads = []
    for second_order in (True, False):
        g, d = _gan(batch_norm=False)
        step = _gstep(g, d)
        dk = mitigation("unrolled", steps=2, second_order=second_order).discriminator_for_generator(d, step)
        F.softplus(-dk(step.fake)).mean().backward()
        grads.append(torch.cat([p.grad.flatten() for p in g.parameters()]))
    assert torch.isfinite(grads[0]).all() and torch.isfinite(grads[1]).all()
    assert not torch.allclose(grads[0], grads[1])


def test_unrolled_second_order_gradient_matches_the_surrogate_by_hand() -> None:
    """SGD, k = 2: G's gradient is that of f(theta_G, U^2(theta_D)), U depending on theta_G via the fakes."""
    from torch.func import functional_call

    torch.manual_seed(0)
    g = nn.Linear(3, 2)
    g.latent_dim = 3  # type: ignore[assignment]
    d = mlp_d()
    reals = [torch.randn(8, 2) for _ in range(2)]
    latents = [torch.randn(8, 3) for _ in range(2)]
    z = torch.randn(8, 3)
    loss = get_host().losses.get("ns-gan")

    def objective(D: Any, r: torch.Tensor, f: torch.Tensor) -> torch.Tensor:
        return loss.discriminator_loss(D(r), D(f))

    def g_grad(second_order: bool) -> tuple[torch.Tensor, ...]:
        it_r, it_z = iter(reals), iter(latents)
        step = GeneratorStep(step=0, total_steps=10, device=torch.device("cpu"), info=VECTORS,
                             generator=g, discriminator=d, z=z, fake=g(z), loss=loss,
                             sample_real=lambda: Batch(next(it_r)), sample_latent=lambda n: (next(it_z), None),
                             prepare=lambda x, ctx: x,
                             discriminator_objective=lambda D, r, f: objective(D, r.x, f.x), lr_d=0.1,
                             betas_d=(0.5, 0.999))
        spec = mitigation("unrolled", steps=2, optimizer="sgd", second_order=second_order)
        dk = spec.discriminator_for_generator(d, step)
        return torch.autograd.grad(loss.generator_loss(None, dk(step.fake)), list(g.parameters()))

    def surrogate(gp: dict[str, torch.Tensor]) -> torch.Tensor:
        theta = {n: p.detach().clone().requires_grad_(True) for n, p in d.named_parameters()}
        for r, zk in zip(reals, latents):
            f = objective(lambda x, theta=theta: functional_call(d, theta, (x,)), r, functional_call(g, gp, (zk,)))
            grads = torch.autograd.grad(f, list(theta.values()), create_graph=True)
            theta = {n: p - 0.1 * gr for (n, p), gr in zip(theta.items(), grads)}
        return loss.generator_loss(None, functional_call(d, theta, (functional_call(g, gp, (z,)),)))

    gp = dict(g.named_parameters())
    want = torch.autograd.grad(surrogate(gp), list(gp.values()))
    for got, first, w in zip(g_grad(True), g_grad(False), want):
        torch.testing.assert_close(got, w, rtol=1e-5, atol=1e-7)
        assert not torch.allclose(first, w, rtol=1e-3, atol=1e-6)  # the second-order term matters here


def test_unrolled_through_the_engine_leaves_d_and_its_optimizer_untouched(tmp_path: Any) -> None:
    from ganzoo.engine.trainer import Trainer

    user = {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "batch_size": 16, "steps": 2,
                    "mitigations": ["spectral-norm", "unrolled"]},
            "arch": {"hidden": 16, "latent_dim": 4}, "train": {"tensorboard": False},
            "mitigation": {"unrolled": {"steps": 2}}}
    t = Trainer(resolve(user, get_host()), tmp_path, get_host())
    t.train_step()  # gives the optimizer some state
    d_state, opt_state = copy.deepcopy(t.D.state_dict()), copy.deepcopy(t.nets.opt_d.state_dict())
    g_before = [p.detach().clone() for p in t.G.parameters()]
    t.gan_step.g_update(None)  # a generator update with a fresh fake batch
    assert all(torch.equal(v, t.D.state_dict()[k]) for k, v in d_state.items())
    after = t.nets.opt_d.state_dict()["state"]
    assert all(torch.equal(v, after[i][k]) for i, s in opt_state["state"].items() for k, v in s.items())
    assert any(not torch.equal(a, b) for a, b in zip(g_before, t.G.parameters()))


# --------------------------------------------------------------------------- r1


def test_r1_is_exact_for_a_linear_discriminator() -> None:
    torch.manual_seed(0)
    d = Discriminator(nn.Identity(), 4)
    w = d.head.weight
    real = torch.randn(8, 4)
    step = DiscriminatorStep(step=3, total_steps=10, device=torch.device("cpu"),
                             info=DataInfo(name="v", kind="vector", shape=(4,)), discriminator=d, real=real,
                             fake=torch.randn(8, 4), real_logits=d(real), fake_logits=torch.zeros(8))
    value = mitigation("r1", gamma=10.0).discriminator_regularizer(step)
    expected = 10.0 / 2 * w.detach().pow(2).sum()
    torch.testing.assert_close(value, expected)
    value.backward()  # differentiable w.r.t. D: d/dw gamma/2 ||w||^2 = gamma w
    torch.testing.assert_close(w.grad, 10.0 * w.detach())
    lazy = mitigation("r1", gamma=10.0, every=4)
    assert lazy.discriminator_regularizer(step) is None
    step.step = 8
    torch.testing.assert_close(lazy.discriminator_regularizer(step), 4 * expected)


# --------------------------------------------------------------------------- mode seeking


@pytest.mark.parametrize("shape", [(2,), (1, 4, 4)])
def test_mode_seeking_term_on_a_known_generator(shape: tuple[int, ...]) -> None:
    torch.manual_seed(0)
    dim = 1
    for s in shape:
        dim *= s
    lin = nn.Linear(dim, dim, bias=False)
    with torch.no_grad():
        lin.weight.copy_(3.0 * torch.eye(dim))
    z = torch.randn(10, dim)
    fake = lin(z).reshape(10, *shape)  # G(z) = 3 z: |G(z1) - G(z2)| / |z1 - z2| = 3 exactly
    step = GeneratorStep(step=0, total_steps=10, device=torch.device("cpu"),
                         info=DataInfo(name="m", kind="vector" if len(shape) == 1 else "image", shape=shape),
                         generator=lin, discriminator=nn.Identity(), z=z, fake=fake, loss=None,  # type: ignore[arg-type]
                         sample_real=None, sample_latent=None, prepare=None,  # type: ignore[arg-type]
                         discriminator_objective=None, lr_d=0.0, betas_d=(0.5, 0.999))  # type: ignore[arg-type]
    value = mitigation("mode-seeking", weight=2.0).generator_regularizer(step)
    assert value.item() == pytest.approx(2.0 / (3.0 + 1e-5), rel=1e-5)
    value.backward()
    assert torch.diagonal(lin.weight.grad).mean() < 0  # minimising it spreads G's outputs apart
    with pytest.raises(IncompatibleError, match="at least 2"):
        mitigation("mode-seeking").check(setup(1))
