"""The quality protocol over several seeds, for one or more variants: mean and range of each score.

    python bench/seeds.py --seeds 0 1 2 --variant float32="--precision float32" \
        --variant bfloat16="--precision mixed_bfloat16" -- --preset cpu --epochs 40

Every variant trains once per seed with ``--holdout --seed S`` and the flags
after ``--`` plus its own, and is scored on the 9 held-out pairs as
``bench/quality.py`` does. One seed is an anecdote: the report gives each
score's mean and its range over the seeds, and says for each variant after the
first whether its mean lies within the first variant's seed-to-seed range.
Writes ``reports/seeds.md`` and ``reports/seeds.json`` (with the command;
``--name`` changes ``seeds``). Running it again resumes each run and skips finished ones.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cyclegan_mri.benchmarks.seeds import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(description=__doc__, reports=str(ROOT / "reports")))
