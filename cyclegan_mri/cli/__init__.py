"""Command-line entry points; ``train.py``, ``evaluate.py`` and ``make_gif.py`` call these."""
