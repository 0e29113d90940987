"""Translating whole NIfTI volumes with a 3D run (sliding windows), and scoring it on aligned volume pairs."""
