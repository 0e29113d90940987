"""Every model trained on real MRI volumes within one CPU budget, on one patient split, scored on held-out patients.

    python bench/real_mri.py --data sample_volume/brats                      # every model, seeds 0 and 1, 60 CPU min
    taskset -c 0 python bench/real_mri.py --data DIR --models cyclegan --seeds 0 &
    taskset -c 1 python bench/real_mri.py --data DIR --models cyclegan --seeds 1  # one run per core
    python bench/real_mri.py --data DIR --report-only                           # rebuild the report

Writes reports/real_mri.json and reports/real_mri.md (with figures); see docs/real_mri.md for the data.
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cyclegan_mri.benchmarks.real_mri import main  # noqa: E402
from cyclegan_mri.cli.common import run_main  # noqa: E402

if __name__ == "__main__":
    sys.exit(run_main(main))
