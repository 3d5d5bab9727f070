"""Suite files: the schema, its one-line errors, the built-in suites."""

from __future__ import annotations

from pathlib import Path

import pytest

from ganzoo.bench.suite import SuiteError, builtin_suite_names, expand_runs, load_suite, parse_suite, validate_components
from tests.bench.conftest import run_bench_cli, write_suite


def _parse(text: str) -> object:
    import tomllib

    return parse_suite(tomllib.loads(text), source="s.toml")


BASE = 'name = "x"\ndescription = "d"\nmetrics = ["modes"]\n'


def test_parse_tiny_suite(tiny_suite: Path) -> None:
    s = load_suite(tiny_suite)
    assert [v.name for v in s.variants] == ["gan", "lsgan"]
    assert s.seeds == (0, 1) and s.primary_metric == "modes" and s.primary_direction == "max"
    assert s.published[0].variant == "gan"
    runs = expand_runs(s, Path("out"))
    assert [r.key for r in runs] == ["gan/seed-0", "lsgan/seed-0", "gan/seed-1", "lsgan/seed-1"]
    assert runs[0].user["run"]["seed"] == 0 and runs[2].user["run"]["seed"] == 1
    assert runs[0].user["arch"]["hidden"] == 16 and "tensorboard" not in runs[0].user.get("train", {})  # logs as train does
    assert runs[0].fingerprint != runs[2].fingerprint
    assert expand_runs(s, Path("out"), steps=99)[0].fingerprint == runs[0].fingerprint  # steps extend, not restart


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        (BASE + 'colour = 1\n[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "unknown key 'colour'"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\n', "variants[0] ('a'): missing required key 'loss'"),
        (BASE + 'steps = "many"\n[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "s.toml: key 'steps': expected a valid integer, got 'many'"),
        (BASE + 'steps = 0\n[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "s.toml: key 'steps': expected greater than or equal to 1, got 0"),
        (BASE + 'seeds = [1, 1]\n[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "s.toml: seeds: seeds must be distinct, got [1, 1]"),
        (BASE + 'device = "tpu"\n[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "s.toml: key 'device': expected 'auto', 'cpu' or 'cuda', got 'tpu'"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n'
                '[[variants]]\nname = "b"\ndataset = "ring8"\narch = "mlp"\nlos = "lsgan"\n',
         "s.toml: variants[1] ('b'): unknown key 'los' (did you mean 'loss'?); allowed: arch, baseline, dataset, description"),
        (BASE + '[[variants]]\nname = "a b"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "s.toml: variants[0] ('a b'): key 'name': expected match pattern"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n'
                '[[published]]\nmodel = "GAN"\ndataset = "ring8"\nsource = "p"\nerror_kind = "sd"\n',
         "s.toml: published[0]: key 'error_kind': expected 'std' or 'se', got 'sd'"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n'
                '[[published]]\nmodel = "GAN"\ndataset = "ring8"\nsource = "p"\nvalues = { modes = "many" }\n',
         "s.toml: published[0]: key 'values.modes': expected a valid number, got 'many'"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\nmitigatons = []\n',
         "unknown key 'mitigatons' (did you mean 'mitigations'?)"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\nset = { "run.seed" = 3 }\n',
         "set key 'run.seed' is not allowed"),
        ('name = "x"\ndescription = "d"\nmetrics = ["fdi"]\n[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "unknown metric 'fdi'"),
        (BASE.replace('"modes"', '"kl"') + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n',
         "metrics[0]: unknown metric 'kl' (renamed 'reverse_kl'); known: "),
        (BASE.replace('"modes"', '"modes[classifier]"') + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\n'
         'loss = "ns-gan"\n', "unknown metric 'modes[classifier]'"),
        (BASE, "missing required key 'variants'"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n'
                '[[published]]\nmodel = "GAN"\ndataset = "ring8"\nsource = "p"\nvalues = { mdoes = 1 }\n',
         "published[0]: key 'values': 'mdoes' is not one of the suite's metrics (modes)"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n'
                '[[published]]\nmodel = "GAN"\ndataset = "grid25"\nsource = "p"\nvalues = { modes = 1 }\n',
         "published[0]: key 'dataset': 'grid25' is not a dataset of this suite's variants (ring8)"),
        (BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n'
                '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n', "defined twice"),
        (BASE.replace("name = ", "seeds = 100000000\nname = ", 1) + '[[variants]]\nname = "a"\ndataset = "ring8"\n'
         'arch = "mlp"\nloss = "ns-gan"\n', "at most 1000 seeds, got 100000000"),
        (BASE.replace("name = ", "seeds = [0, 18446744073709551616]\nname = ", 1) + '[[variants]]\nname = "a"\n'
         'dataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n', "less than or equal to 4294967295"),
    ],
)
def test_schema_errors_name_the_key(text: str, needle: str) -> None:
    with pytest.raises(SuiteError) as exc:
        _parse(text)
    assert needle in str(exc.value)
    assert "\n" not in str(exc.value)


def test_unknown_component_gets_the_registry_message() -> None:
    s = _parse(BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gam"\n')
    with pytest.raises(SuiteError) as exc:
        validate_components(s)
    assert "variant 'a'" in str(exc.value) and "ns-gam" in str(exc.value)


def test_bad_component_option_is_caught_before_running() -> None:
    s = _parse(BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\nset = { "arch.hiden" = 3 }\n')
    with pytest.raises(SuiteError, match="arch.hiden"):
        validate_components(s)


def test_builtin_suites_are_valid() -> None:
    names = builtin_suite_names()
    assert names[0] == "quick"
    assert {"quick", "mode-collapse-2d", "stacked-mnist", "mnist", "cifar10"} <= set(names)
    for name in names:
        s = load_suite(name)
        validate_components(s)
        assert s.description and s.estimate and s.protocol, name
    # The default suite (issue 17): a plain baseline against mitigations on ring8, with enough seeds for
    # 95 % intervals to separate them (its design search is in benchmarks/RESULTS.md).
    quick = load_suite("quick")
    assert len(quick.variants) >= 3 and len(quick.seeds) >= 5
    assert "ring8" in quick.datasets
    assert any(not v.mitigations for v in quick.variants) and any(v.mitigations for v in quick.variants)
    (baseline,) = [v for v in quick.variants if v.baseline]  # the report tests the mitigations against it
    assert not baseline.mitigations


def test_cli_bad_suite_file_exits_2_with_one_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(BASE + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\n', encoding="utf-8")
    r = run_bench_cli("--suite", str(bad), "--out", str(tmp_path / "o"))
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0 and "missing required key 'loss'" in r.stderr
    assert "Traceback" not in r.stderr
    r = run_bench_cli("--suite", "quik")
    assert r.returncode == 2 and "did you mean 'quick'" in r.stderr


def test_a_builtin_name_wins_over_a_folder_of_that_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "quick").mkdir()  # e.g. the output folder of an earlier `ganzoo bench --out quick`
    assert load_suite("quick").name == "quick"
    (tmp_path / "notasuite").mkdir()
    with pytest.raises(SuiteError, match="cannot read suite file 'notasuite'"):
        load_suite("notasuite")


def test_cli_list(tmp_path: Path) -> None:
    r = run_bench_cli("--list")
    assert r.returncode == 0, r.stderr
    for name in ("quick", "mode-collapse-2d", "stacked-mnist"):
        assert name in r.stdout
    assert "variants ×" in r.stdout and "est." in r.stdout


def test_cli_unknown_component_in_suite(tmp_path: Path) -> None:
    path = write_suite(tmp_path, extra='[[variants]]\nname = "x"\nloss = "no-such-loss"\n')
    r = run_bench_cli("--suite", str(path), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "variant 'x'" in r.stderr and "no-such-loss" in r.stderr


def test_metrics_are_the_registered_metrics_values(monkeypatch: pytest.MonkeyPatch) -> None:
    """A plugin metric's values are suite metrics, read from the catalogue like the built-in ones."""
    import ganzoo.plugins as plugins
    from ganzoo import MetricSpec, MetricValue, hookimpl
    from ganzoo.plugins import PluginHost

    class Gap(MetricSpec):
        name = "gap-test"
        values = {"mean_gap": MetricValue("min", "mean gap", fmt=".2f")}

    class Plugin:
        @hookimpl
        def ganzoo_register_metrics(self, register):  # type: ignore[no-untyped-def]
            register(Gap())

    host = PluginHost(strict=True, disabled=set()).load_entry_points()
    host.add_plugin(Plugin(), "gap-test-plugin")
    monkeypatch.setattr(plugins, "_HOST", host)
    s = _parse(BASE.replace('"modes"', '"mean_gap", "fid[classifier:shapes]"')
               + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\nloss = "ns-gan"\n')
    assert s.metrics == ["mean_gap", "fid[classifier:shapes]"] and s.primary_direction == "min"
    with pytest.raises(SuiteError, match=r"unknown metric 'mean_gap\[x\]'; known: .*, mean_gap"):
        _parse(BASE.replace('"modes"', '"mean_gap[x]"') + '[[variants]]\nname = "a"\ndataset = "ring8"\narch = "mlp"\n'
               'loss = "ns-gan"\n')


@pytest.mark.parametrize("content", [b"\x8a\x00\xff binary", b""])
def test_binary_or_empty_suite_file_is_one_line(tmp_path: Path, content: bytes) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(content)
    with pytest.raises(SuiteError) as exc:
        load_suite(path)
    assert str(path) in str(exc.value) and "\n" not in str(exc.value)


def test_tensorboard_does_not_change_a_runs_fingerprint() -> None:
    """Runs of benches made while the bench switched TensorBoard off keep their fingerprint (no retraining)."""
    from ganzoo.bench.suite import fingerprint

    tree = {"run": {"dataset": "ring8", "seed": 0, "steps": 10}, "arch": {"hidden": 16}}
    assert fingerprint({**tree, "train": {"tensorboard": False}}) == fingerprint(tree)
    assert fingerprint({**tree, "train": {"tensorboard": False, "lr_d": 1e-4}}) == fingerprint({**tree, "train": {"lr_d": 1e-4}})
    assert fingerprint({**tree, "train": {"lr_d": 1e-4}}) != fingerprint(tree)

