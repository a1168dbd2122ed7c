"""Reading TensorBoard event files into numpy series. Must not import torch."""
