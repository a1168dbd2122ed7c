"""Benchmark: the seed tutorial's MNIST loop against our Trainer, same process, same recipe.

Recipe (both): SimpleCNN, MNIST normalised with mean 0.5 / std 0.5, batch 32, Adam lr 1e-3.
Tutorial: torchvision dataset + ToTensor/Normalize + DataLoader(shuffle=True), loss.item()
every step, add_scalar every 100 steps. Ours: tbx_tui's Trainer, logging every 100 steps.
Both are timed over the same window (from step LOG to the last step), alternating A/B
rounds so drift on a shared machine hits both; the best round of each is compared.

    python tests/benchmarks/bench_trainer.py [--data-dir ../shared/data] [--steps 600]
"""

from __future__ import annotations

import argparse
import dataclasses
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "src"))

from tbx_tui.config import RunConfig  # noqa: E402
from tbx_tui.engine import TensorBoardSink, Trainer, load_dataset  # noqa: E402
from tbx_tui.engine.vision.models import SimpleCNN  # noqa: E402
from tbx_tui.engine.output.sinks import NullSink  # noqa: E402

LOG = 100


def tutorial_loop(data_dir: str, steps: int, logdir: str, device: str = "cpu") -> float:
    """The tutorial's section 5 loop, verbatim in spirit. Returns steps/s after step LOG."""
    import torchvision
    import torchvision.transforms as transforms
    from tensorboardX import SummaryWriter

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    trainset = torchvision.datasets.MNIST(root=data_dir, train=True, download=False,
                                          transform=transform)
    trainloader = torch.utils.data.DataLoader(trainset, batch_size=32, shuffle=True)
    torch.manual_seed(0)
    model = SimpleCNN((1, 28, 28), 10).to(device)
    criterion = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.001)
    writer = SummaryWriter(log_dir=logdir)
    running_loss, t_start = 0.0, None
    for i, (inputs, targets) in enumerate(trainloader):
        if i == LOG:
            t_start = time.perf_counter()
        if i == steps:
            break
        inputs, targets = inputs.to(device), targets.to(device)  # as the tutorial would on a GPU
        outputs = model(inputs)
        loss = criterion(outputs, targets)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        running_loss += loss.item()
        if i % 100 == 99:
            writer.add_scalar("Loss/train", running_loss / 100, i)
            running_loss = 0.0
    elapsed = time.perf_counter() - t_start
    writer.close()
    return (steps - LOG) / elapsed


class _Clock(NullSink):
    """A sink that notes when each log interval ends: the timing window of our run."""

    def __init__(self):
        self.times = {}

    def scalars(self, step, values):
        self.times[step + 1] = time.perf_counter()


def our_trainer(data, steps: int, logdir: str, hist_every: int, device: str = "cpu") -> float:
    cfg = RunConfig(model="simple_cnn", data="mnist", epochs=1, batch_size=32, lr=1e-3,
                    optimizer="adam", log_every=LOG, hist_every=hist_every, max_steps=steps,
                    logdir=logdir, device=device)
    clock = _Clock()
    Trainer(cfg, [TensorBoardSink(), clock], data=data).run()
    return (steps - LOG) / (clock.times[steps] - clock.times[LOG])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data-dir", default=str(ROOT.parent / "shared" / "data"))
    p.add_argument("--steps", type=int, default=600, help="steps per round (timed after 100)")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--device", default="cpu", help="cpu, or cuda on a GPU machine")
    args = p.parse_args()
    if args.steps % LOG or args.steps <= LOG:
        p.error(f"--steps must be a multiple of {LOG} above {LOG}")
    data = load_dataset("mnist", args.data_dir)
    # The timing window ends before each run's closing evaluation: a tenth of the test set
    # keeps that evaluation (and its views) short, and changes nothing measured.
    data = dataclasses.replace(data, test_x=data.test_x[:1000], test_y=data.test_y[:1000])
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.device}, "
          f"{args.steps} steps/round, {args.rounds} rounds")
    rows = {"tutorial loop": [], "tbx-tui Trainer": [], "tbx-tui Trainer + histograms": []}
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            d = args.device
            rows["tutorial loop"].append(tutorial_loop(args.data_dir, args.steps, f"{tmp}/t{r}", d))
            rows["tbx-tui Trainer"].append(our_trainer(data, args.steps, f"{tmp}/o{r}", 0, d))
            rows["tbx-tui Trainer + histograms"].append(
                our_trainer(data, args.steps, f"{tmp}/h{r}", LOG, d))
    # Rounds are paired (run back to back), so the median of per-round ratios is the
    # figure least moved by a noisy neighbour on a shared machine.
    base = rows["tutorial loop"]
    print(f"{'':32}{'best steps/s':>14}{'median':>10}{'ratio of best':>15}"
          f"{'median ratio':>14}")
    for name, values in rows.items():
        paired = statistics.median(v / b for v, b in zip(values, base))
        print(f"{name:32}{max(values):14.1f}{statistics.median(values):10.1f}"
              f"{max(values) / max(base):14.2f}x{paired:13.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
