#!/usr/bin/env bash
# For a session that is lent a GPU: the device checks and benchmarks in one run.
# Copy the MNIST .gz files into a git-ignored folder first (e.g. data/MNIST/raw, which
# torchvision extracts) and name `data` in the device tool's `carry`.
set -euo pipefail
cd "$(dirname "$0")/../.."
pip install -q -e '.[dev]'
python -c "import torch; print('cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"
python -m tbx_tui --no-ui --device cuda --data mnist --data-dir data --max-steps 300 --amp
python tests/benchmarks/bench_trainer.py --device cuda --data-dir data --steps 1000 --rounds 3
python tests/benchmarks/bench_histograms.py --device cuda
