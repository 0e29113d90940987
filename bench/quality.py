"""The quality protocol: train on the training pairs' slices only, score the 9 held-out pairs against baselines.

    python bench/quality.py [--out output/quality] [--minutes 60] [--pix2pix-minutes 10] [--ivan-minutes 30]
                            [train.py flags ...]

Trains with ``--holdout`` (neither image of a test pair is ever seen) for
``--minutes`` of training (``train.py --minutes``: with ``--lr-schedule linear``
the rate is planned over the budget; ``--epochs``, when given, caps it), then writes
``reports/quality.json`` (the shape of ``evaluation.json``, with the baselines of
each direction under ``baselines``, and this command under ``command``),
``reports/quality.md``, one figure per direction (input, real target,
translation, absolute error for three test pairs) and the loss curves. Running
it again resumes the same run. The protocol itself is
``cyclegan_mri.benchmarks.quality``.

For reference it also trains pix2pix, paired, on the 34 training pairs (one run
per direction, in ``OUT-pix2pix-DIRECTION``, ``PIX2PIX_FLAGS`` at the slices'
own size), and reports it under ``pix2pix`` beside the baselines.
With ``--ivan-minutes`` it also trains iVAN on the same pairs (one invertible
network for both directions, in ``OUT-ivan``, ``IVAN_FLAGS``), reported under
``ivan``.

With ``--seeds 0 1 2`` it trains once per seed (``OUT-seed0`` ...) and reports
each score's mean, with its range and every seed's scores and milestones, so
that a difference between two settings can be told from seed-to-seed noise.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cyclegan_mri.benchmarks.quality import main  # noqa: E402

if __name__ == "__main__":
    raise SystemExit(main(description=__doc__, reports=str(ROOT / "reports")))
