"""Bit-exactness of the engine across a refactor: train a few configurations with whatever ganzoo is
importable and print a hash of the final generator, discriminator and EMA weights and the last losses.

Run it once with the old code first on PYTHONPATH (a worktree of the old commit and its plugin folders)
and once with the current checkout; identical hashes mean identical training (same seeds, same results).

    PYTHONPATH=OLD:OLD/plugins/ganzoo-vector:... python benchmarks/engine_equivalence.py /tmp/eq-old
    python benchmarks/engine_equivalence.py /tmp/eq-new
"""
import sys, json, hashlib
from pathlib import Path
import torch
from ganzoo.engine.api import start_run

out = Path(sys.argv[1]); out.mkdir(parents=True, exist_ok=True)
base_train = {"tensorboard": False, "sample_every": 0, "checkpoint_every": 0, "log_every": 5}
cfgs = {
    "mlp-nsgan": {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "steps": 40, "batch_size": 64, "seed": 3}},
    "pac-mbstd": {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "steps": 20, "batch_size": 64, "seed": 1,
                          "mitigations": ["pacgan", "minibatch-stddev"]}},
    "mbd-sn-ema": {"run": {"dataset": "grid25", "arch": "mlp", "loss": "hinge", "steps": 20, "batch_size": 32, "seed": 2,
                           "mitigations": ["minibatch-discrimination", "spectral-norm"]}, "train": {"ema": True}},
    "wgangp-dcgan": {"run": {"dataset": "shapes", "arch": "dcgan", "loss": "wgan-gp", "steps": 3, "batch_size": 16, "seed": 0},
                     "dataset": {"resolution": 16, "size": 256}, "arch": {"width": 8}},
    "unrolled-r1-ms": {"run": {"dataset": "ring8", "arch": "mlp", "loss": "ns-gan", "steps": 6, "batch_size": 32, "seed": 4,
                               "mitigations": ["unrolled", "r1", "mode-seeking"]}, "mitigation": {"unrolled": {"steps": 2}}},
}
res = {}
for name, cfg in cfgs.items():
    cfg = {**cfg, "train": {**base_train, **cfg.get("train", {})}}
    r = start_run(cfg, out / name)
    ck = sorted((out / name / "checkpoints").glob("step-*.pt"))[-1]
    st = torch.load(ck, map_location="cpu", weights_only=True)
    h = {}
    for part in ("generator", "discriminator", "ema"):
        sd = st.get(part)
        if sd is None: continue
        m = hashlib.sha256()
        for k in sorted(sd):
            m.update(k.encode()); m.update(sd[k].detach().cpu().contiguous().numpy().tobytes())
        h[part] = m.hexdigest()[:16]
    rows = [json.loads(l) for l in (out / name / "metrics.jsonl").read_text().splitlines() if l.strip()]
    h["last_losses"] = [rows[-1]["loss_d"], rows[-1]["loss_g"]]
    res[name] = h
    print(name, h, flush=True)
(out / "hashes.json").write_text(json.dumps(res, indent=1))
