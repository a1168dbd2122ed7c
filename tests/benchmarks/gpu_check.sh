#!/usr/bin/env bash
# For a session that is lent a GPU: the device checks and benchmarks in one run.
# Copy the MNIST .gz files into a git-ignored folder first (e.g. data/MNIST/raw, which
# torchvision extracts) and name `data` in the device tool's `carry`.
# Usage: gpu_check.sh [all|train|resume|gpt|hf] — one section or all of them.
# Needs tiny-Shakespeare in data/tinyshakespeare/input.txt for the gpt and hf sections;
# hf needs the [llm] extra (transformers, peft).
set -euo pipefail
cd "$(dirname "$0")/../.."
# A machine with no registry brings the dependencies along (PYTHONPATH) instead.
python -c "import tbx_tui, tensorboardX, tensorboard" 2>/dev/null || pip install -q -e '.[dev]'
WHAT=${1:-all}
python -c "import torch; print('cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0))"

if [[ $WHAT == all || $WHAT == train ]]; then
python -m tbx_tui --no-ui --device cuda --data mnist --data-dir data --max-steps 300 --amp
python tests/benchmarks/bench_trainer.py --device cuda --data-dir data --steps 1000 --rounds 3
python tests/benchmarks/bench_histograms.py --device cuda
fi

if [[ $WHAT == all || $WHAT == resume ]]; then

# Checkpoints on CUDA: a run killed with kill -9 and resumed ends as the run never killed
# (cuDNN may pick other kernels after the restart: compared to a tolerance, and stated),
# with the system sampler logging the GPU (sys/gpu0/...) and the streaming path pinned.
rm -rf /tmp/gpu-resume && mkdir -p /tmp/gpu-resume
RUN=(--no-ui --device cuda --data mnist --data-dir "$PWD/data" --epochs 1 --max-steps 600
     --ckpt-every 100 --sys-every 1 --logdir /tmp/gpu-resume)
python -m tbx_tui "${RUN[@]}" --name whole
python -m tbx_tui "${RUN[@]}" --name killed & PID=$!
until ls /tmp/gpu-resume/killed/checkpoints/step-*.pt >/dev/null 2>&1; do sleep 0.2; done
sleep 1; kill -9 "$PID"; wait "$PID" || true
python -m tbx_tui --no-ui --resume /tmp/gpu-resume/killed
python - <<'PY'
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
a = torch.load("/tmp/gpu-resume/whole/model.pt", weights_only=True)
b = torch.load("/tmp/gpu-resume/killed/model.pt", weights_only=True)
exact = all(torch.equal(a[k], b[k]) for k in a)
worst = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
ea = EventAccumulator("/tmp/gpu-resume/killed", size_guidance={"scalars": 0}); ea.Reload()
steps = [e.step for e in ea.Scalars("Loss/train")]
gpu = [t for t in ea.Tags()["scalars"] if t.startswith("sys/gpu0/")]
print(f"CUDA resume: bit-identical {exact}, largest weight difference {worst:.3g}; "
      f"Loss/train steps unique {len(steps) == len(set(steps))}; GPU tags {gpu}")
PY

# nccl puts one rank on one GPU: more processes than GPUs is refused up front (exit 2)
N=$(( $(python -c "import torch; print(torch.cuda.device_count())") + 1 ))
set +e; python -m tbx_tui --no-ui --device cuda --data mnist --data-dir data --nproc "$N" \
  --max-steps 10 --logdir /tmp/gpu-resume; echo "--nproc $N on $((N - 1)) GPU(s): exit $?"; set -e
fi

if [[ $WHAT == all || $WHAT == gpt ]]; then
# Language models: tokens/s and MFU of a GPT-2-small-sized gpt (bf16, compiled) against the
# plain loop; histograms of a 124M-parameter model at the default interval; a short run
# with samples and MFU in its event file.
python tests/benchmarks/bench_gpt.py --device cuda --data-dir data --preset gpt2 \
  --batch-size 16 --amp --compile --steps 300 --rounds 2
python tests/benchmarks/bench_gpt.py --device cuda --data-dir data --preset gpt2 \
  --batch-size 16 --amp --hist --rounds 3
python -m tbx_tui --no-ui --device cuda --model gpt --data shakespeare_char --data-dir data \
  --gpt-preset mini --amp --max-steps 500 --log-every 100 --logdir /tmp/gpu-gpt --name mini
python - <<'PY'
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
ea = EventAccumulator("/tmp/gpu-gpt/mini", size_guidance={"scalars": 0, "tensors": 0})
ea.Reload()
print("mini on CUDA: val loss", round(ea.Scalars("Loss/val")[-1].value, 3), "MFU %",
      [round(e.value, 1) for e in ea.Scalars("MFU/percent")][-3:],
      "samples", len(ea.Tensors("Samples/val/text_summary")))
PY
fi

if [[ $WHAT == all || $WHAT == hf ]]; then
# hf: a GPT-2-small-sized Hugging Face model (random weights, an 8,192-token BPE built
# here: the machine has no network), fine-tuned whole with bf16 and compile, then with
# LoRA through peft; tokens/s and MFU from the runs' own event files.
rm -rf /tmp/gpu-hf && mkdir -p /tmp/gpu-hf
python tests/hf_models.py /tmp/gpu-hf/gpt2-random data/tinyshakespeare/input.txt
HF=(--no-ui --device cuda --model hf:/tmp/gpu-hf/gpt2-random --data
    text:data/tinyshakespeare/input.txt --batch-size 16 --amp --max-steps 300
    --log-every 50 --sample-tokens 50 --logdir /tmp/gpu-hf)
python -m tbx_tui "${HF[@]}" --compile --name full
python -m tbx_tui "${HF[@]}" --lora-rank 16 --name lora
python - <<'PY'
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
for name in ("full", "lora"):
    ea = EventAccumulator(f"/tmp/gpu-hf/{name}", size_guidance={"scalars": 0}); ea.Reload()
    tps = [e.value for e in ea.Scalars("Throughput/tokens_per_s")][1:]
    mfu = [e.value for e in ea.Scalars("MFU/percent")][1:]
    print(f"hf gpt2-sized {name}: tokens/s {max(tps):,.0f}, MFU % {max(mfu):.1f}, "
          f"val loss {ea.Scalars('Loss/val')[-1].value:.3f}")
PY
fi
