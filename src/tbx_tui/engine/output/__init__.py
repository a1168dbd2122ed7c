"""Where a run's numbers go: event files, the console, histograms, the system sampler."""
