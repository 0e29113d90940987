"""cyclegan-mri: MRI contrast translation (T1-weighted <-> T2-weighted) with CycleGAN and friends."""

__version__ = "0.1.0"
