"""tbx-tui: a PyTorch trainer and TensorBoard-log monitor that lives in the terminal."""

__version__ = "0.1.0"
