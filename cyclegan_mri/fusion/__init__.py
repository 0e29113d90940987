"""Fusing aligned slices of two contrasts with an iVAN fusion run, the classical fusion rules beside it, and the fusion metrics."""
