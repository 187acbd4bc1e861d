#!/usr/bin/env bash
# One short device run: the GPU recipe's time to 99% (20 seeds), the test suite with CUDA
# present, the training-step benchmark on CPU and CUDA, and the device comparison. Expects the
# four MNIST files gzipped in .gpu_data/ (carried, ignored by git) and writes its logs under $OUT.
set -uo pipefail
export PYTHONPATH="$PWD/src:$PWD" PYTHONUNBUFFERED=1 MPLBACKEND=Agg NNKIT_DATA=/tmp/mnist
mkdir -p /tmp/mnist/MNIST/raw
for f in .gpu_data/*.gz; do gunzip -c "$f" > "/tmp/mnist/MNIST/raw/$(basename "$f" .gz)"; done
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, torchvision; print('torch', torch.__version__, 'torchvision', torchvision.__version__, 'cuda', torch.cuda.is_available(), 'threads', torch.get_num_threads())"
echo "== time to 99% on the GPU (GPU_RECIPE, 20 seeds, with and without compile)"
timeout 240 python3 benchmarks/time_to_accuracy.py --device cuda --no-notes --data /tmp/mnist \
  --json "$OUT/gpu_time_to_accuracy.json" --markdown "$OUT/gpu_time_to_accuracy.md" 2>&1 | tail -n 8
echo "== devices (CPU and GPU rows, ratios to the CPU)"
timeout 240 python3 benchmarks/compare_devices.py --data /tmp/mnist --out "$OUT" 2>&1 | tail -n 14
echo "== tests"
python3 -m pytest -q -p no:cacheprovider tests src/nnkit -ra 2>&1 | tee "$OUT/tests.log" | tail -n 25
echo "== train step benchmark"
python3 -m pytest -q -p no:cacheprovider benchmarks/test_train_step.py --benchmark-json="$OUT/step.json" \
  --benchmark-columns=min,median,rounds --benchmark-max-time=0.5 2>&1 \
  | tee "$OUT/step.log" | grep -E "test_train_step|passed|failed|error" | head -n 40
