"""Translating 2D slices with a trained run, and scoring translations on aligned pairs beside simple baselines."""
