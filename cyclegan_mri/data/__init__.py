"""Reading, pairing and batching the MRI slices."""
