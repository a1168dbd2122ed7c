"""Runs told apart by what differs: ``lr=0.01 bs=64`` from their hyperparameters (the
HParams plugin's session start, written by us or by any TensorBoard writer)."""

from __future__ import annotations

SHORT = {"batch_size": "bs", "epochs": "ep", "optimizer": "opt", "weight_decay": "wd",
         "momentum": "mom", "lr_schedule": "sched", "lr_gamma": "gamma",
         "lr_step_epochs": "step_ep", "max_steps": "max", "log_every": "log",
         "hist_every": "hist"}
ORDER = ("model", "data", "lr", "batch_size", "optimizer", "epochs", "weight_decay",
         "momentum", "lr_schedule", "seed")
_MISSING = object()


def differing_keys(hparams: dict[str, dict[str, object]]) -> list[str]:
    """Keys whose value is not the same in every run that has hyperparameters (a key one
    run lacks counts as differing), in a fixed order."""
    having = [h for h in hparams.values() if h]
    if len(having) < 2:
        return []
    keys: dict[str, None] = {}
    for h in having:
        keys.update(dict.fromkeys(h))
    differ = [k for k in keys if len({_norm(h.get(k, _MISSING)) for h in having}) > 1]
    # A fixed order, whatever order the runs were read in: the usual suspects first.
    return sorted(differ, key=lambda k: (ORDER.index(k) if k in ORDER else len(ORDER), k))


def _norm(v):
    return ("missing",) if v is _MISSING else (type(v).__name__, v) if isinstance(v, bool) \
        else v


def fmt_value(v) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return "-" if v is None else str(v)


def run_labels(hparams: dict[str, dict[str, object]], width: int = 40) -> dict[str, str]:
    """run name -> its label: the differing hyperparameters, or the name when none differ
    (or the run has none). Two runs that differ only in keys cut off by ``width`` keep
    their names after the label, so no two labels are the same."""
    keys = differing_keys(hparams)
    labels = {}
    for name, h in hparams.items():
        parts = [f"{SHORT.get(k, k)}={fmt_value(h[k])}" for k in keys if k in h]
        text = " ".join(parts)
        labels[name] = (text if len(text) <= width else text[: width - 1] + "…") or name
    counts: dict[str, int] = {}
    for text in labels.values():
        counts[text] = counts.get(text, 0) + 1
    return {n: t if counts[t] == 1 or t == n else f"{t} ({n})" for n, t in labels.items()}
