"""Segmenting BraTS-style cases with a Vox2Vox run, and the Dice and HD95 it is scored by."""
