#!/usr/bin/env bash
# One short device run for the text and distributed work: GPU tests, the character-model
# speed benchmark with CUDA rows, and the 1-vs-2-process comparison on that machine's CPU.
# Expects .gpu_data/ (carried, ignored by git) with the gzipped MNIST files and alice.txt.
set -uo pipefail
export PYTHONPATH="$PWD/src:$PWD" PYTHONUNBUFFERED=1 MPLBACKEND=Agg NNKIT_DATA=/tmp/mnist
mkdir -p /tmp/mnist/MNIST/raw /tmp/text
for f in .gpu_data/*.gz; do gunzip -c "$f" > "/tmp/mnist/MNIST/raw/$(basename "$f" .gz)"; done
cp .gpu_data/alice.txt /tmp/text/
nvidia-smi --query-gpu=name --format=csv,noheader
echo "== gpu tests"
python3 -m pytest -q -p no:cacheprovider -m gpu tests 2>&1 | tail -n 4
echo "== char rnn speed"
python3 benchmarks/char_rnn_speed.py --text-dir /tmp/text --seconds 12 --json "$OUT/char_speed.json" 2>&1 | tail -n 8
echo "== distributed speed-up (CPU of the GPU machine)"
python3 benchmarks/distributed_speedup.py --procs 1 2 4 --epochs 2 --batch-size 128 --data /tmp/mnist --json "$OUT/ddp_cpu.json" 2>&1 | grep -v Warning | tail -n 5
