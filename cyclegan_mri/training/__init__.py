"""Training runs: checkpoints, resume, per-epoch outputs and export."""
