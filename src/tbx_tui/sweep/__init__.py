"""Hyperparameter sweeps on Optuna: many ordinary runs, searched, pruned, resumed, compared."""
