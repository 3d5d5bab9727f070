#!/usr/bin/env bash
# One GPU check (issue 19): the CUDA-marked tests, engine vs plain training throughput on CUDA, ONNX
# inference (CUDA provider vs torch eager), and a torchrun DDP smoke run with NCCL; then a summary.
# Runs on a CPU-only machine too, as far as it can: every CUDA part says in one line that it is skipped.
# Budget: under 8 minutes on one H100/H200.   Usage: bash benchmarks/gpu_check.sh [OUT_DIR]
set -uo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-${OUT:-gpu-check-out}}"
mkdir -p "$OUT"
PY="${PYTHON:-python3}"
summary=()
note() { summary+=("$1"); echo "== $1"; }

has_cuda=$("$PY" -c "import torch; print(int(torch.cuda.is_available()))" 2>/dev/null || echo 0)
gpus=$("$PY" -c "import torch; print(torch.cuda.device_count())" 2>/dev/null || echo 0)
"$PY" -c "import torch, sys; print('torch', torch.__version__, 'cuda', torch.version.cuda, 'devices', torch.cuda.device_count()); [print(' ', torch.cuda.get_device_name(i)) for i in range(torch.cuda.device_count())]" | tee "$OUT/device.txt"

# 1. CUDA-marked tests (bf16/fp16 with every loss and penalty, channels_last, fused Adam, exact resume,
#    onnxruntime CUDA / TensorRT parity).
if [ "$has_cuda" = 1 ]; then
  timeout 300 "$PY" -m pytest -q -m cuda tests/cuda -p no:cacheprovider 2>&1 | tee "$OUT/cuda-tests.txt"
  note "cuda tests: $(tail -1 "$OUT/cuda-tests.txt")"
else
  note "cuda tests: skipped (no CUDA device)"
fi

# 2. Training throughput, engine vs the plain pytorch/examples loop (goal >= 2x with bf16 on CUDA).
if [ "$has_cuda" = 1 ]; then
  for res in 32 64; do
    timeout 120 "$PY" benchmarks/train_throughput.py --device cuda --precision bf16 --resolution "$res" --steps 50 --repeats 5 \
      2>/dev/null | tee "$OUT/throughput-$res.txt"
    note "throughput ${res}px bf16: $(grep -o 'ratio ganzoo/plain = [0-9.]*' "$OUT/throughput-$res.txt")"
  done
else
  note "throughput on CUDA: skipped (no CUDA device); CPU ratios are in benchmarks/RESULTS.md"
fi

# 3. ONNX inference: onnxruntime CUDA (and TensorRT when present) vs torch eager.
if [ "$has_cuda" = 1 ]; then
  timeout 180 "$PY" benchmarks/onnx_inference.py --repeat 20 2>&1 | tee "$OUT/onnx-inference.txt"
  note "onnx inference: see $OUT/onnx-inference.txt"
else
  note "onnx inference on CUDA: skipped (no CUDA device)"
fi

# 4. DDP smoke with NCCL under torchrun on all visible GPUs. With one GPU torchrun starts a single rank,
#    and ganzoo joins a process group only when WORLD_SIZE > 1: that run checks the torchrun path, not NCCL.
if [ "$has_cuda" = 1 ]; then
  nproc=$(( gpus > 0 ? gpus : 1 ))
  rm -rf "$OUT/ddp-run"
  timeout 180 "$PY" -m torch.distributed.run --standalone --nproc_per_node "$nproc" -m ganzoo train \
    --dataset shapes --arch dcgan --loss ns-gan --steps 20 --batch-size $((64 * nproc)) --device cuda --precision bf16 \
    --set dataset.resolution=32 --set train.tensorboard=false --out "$OUT/ddp-run" --quiet 2>&1 | tail -5 | tee "$OUT/ddp.txt"
  what=$([ "$nproc" -gt 1 ] && echo "nccl, $nproc ranks" || echo "1 rank: torchrun path only, no NCCL group")
  if [ -f "$OUT/ddp-run/checkpoints/step-00000020.pt" ]; then note "ddp ($what): ok"; else note "ddp ($what): FAILED"; fi
else
  note "ddp with nccl: skipped (no CUDA device); the gloo path is tested in tests/distributed"
fi

echo
echo "== summary"
printf '%s\n' "${summary[@]}" | tee "$OUT/summary.txt"
