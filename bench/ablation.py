"""What each of the CycleGAN paper's settings is worth: the quality protocol once per variant, side by side.

    python bench/ablation.py [--minutes 6] [--epochs 40] [--out output/ablation] [--only NAME ...]

The base has every setting of the paper that the tutorial lacks (U-Net at the
slices' own size, 16 filters, least-squares loss, a pool of 50 fakes, linear
decay, augmentation); each variant changes one of them back to the tutorial's.
Every variant trains with ``--holdout --seed 0`` under the same time budget and
the same ``--epochs`` (so the learning-rate schedule has the same shape), then
is scored on the 9 held-out pairs as ``bench/quality.py`` does. Writes
``reports/ablation.md`` and ``reports/ablation.json`` (with the command). Running it again resumes
each variant's run and skips finished ones.
"""

from __future__ import annotations

import argparse
import json
import shlex
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from cyclegan_mri.benchmarks.quality import train_and_score, trained_so_far  # noqa: E402
from cyclegan_mri.domains import TUTORIAL  # noqa: E402
from cyclegan_mri.rundir import write_atomic  # noqa: E402

BASE = ["--generator", "unet", "--image-size", "217", "181", "--filters", "16", "--gan-loss", "lsgan",
        "--pool-size", "50", "--lr-schedule", "linear", "--augment"]

# Each variant: what it changes with respect to BASE.
VARIANTS = {
    "all of the paper's settings": [],
    "bce instead of lsgan": ["--gan-loss", "bce"],
    "no image pool": ["--pool-size", "0"],
    "constant learning rate": ["--lr-schedule", "constant"],
    "no augmentation": ["--no-augment"],
    "resnet6 generator (220x184)": ["--generator", "resnet6", "--image-size", "220", "184"],
    "tutorial generator (220x184)": ["--generator", "tutorial", "--image-size", "220", "184"],
}

TITLES = TUTORIAL.titles


def markdown(rows: dict, minutes: float, epochs: int) -> str:
    lines = ["# What each of the CycleGAN paper's settings is worth", "",
             f"Each variant: `python train.py {' '.join(BASE)} --holdout --seed 0 --epochs {epochs}` "
             "with one change, "
             f"at most {minutes:g} minutes of training on this machine, scored on the 9 held-out test pairs "
             "(PSNR in dB / SSIM).", "",
             "| variant | epochs | minutes | " + " | ".join(TITLES[d] for d in ("t1_to_t2", "t2_to_t1")) + " |",
             "| --- | ---: | ---: | ---: | ---: |"]
    for name, row in rows.items():
        scores = " | ".join(f"{row[d]['psnr']:.2f} / {row[d]['ssim']:.3f}" for d in ("t1_to_t2", "t2_to_t1"))
        lines.append(f"| {name} | {row['epochs']} | {row['minutes']:.1f} | {scores} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    # train.py flags pass through: never read one (--seed) as an abbreviation of ours (--seeds).
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
                                     allow_abbrev=False)
    parser.add_argument("--out", default="output/ablation", help="parent of the variants' run directories")
    parser.add_argument("--minutes", type=float, default=6.0, help="training time budget of each variant")
    parser.add_argument("--epochs", type=int, default=40, help="--epochs of each variant (the schedule's length)")
    parser.add_argument("--only", nargs="+", choices=sorted(VARIANTS), metavar="NAME",
                        help="run only these variants")
    parser.add_argument("--reports", default=str(ROOT / "reports"), help="where the report goes")
    args, train_flags = parser.parse_known_args()

    rows, source = {}, None
    for index, (name, change) in enumerate(VARIANTS.items()):
        if args.only and name not in args.only:
            continue
        print(f"== {name}", flush=True)
        flags = [*BASE, "--seed", "0", "--epochs", str(args.epochs), "--verbose", "2", *change,
                 *train_flags, "--out", str(Path(args.out) / f"variant{index}")]
        run, source, results = train_and_score(flags, args.minutes, source)
        epochs, minutes = trained_so_far(run)
        rows[name] = {**{d: {k: r[k] for k in ("psnr", "ssim", "nmse")} for d, r in results.items()},
                      "epochs": epochs, "minutes": minutes, "flags": flags}
        reports = Path(args.reports)
        command = " ".join(["python bench/ablation.py", *map(shlex.quote, sys.argv[1:])])
        write_atomic(reports / "ablation.json", json.dumps({"command": command, **rows}, indent=2) + "\n")
        write_atomic(reports / "ablation.md", markdown(rows, args.minutes, args.epochs))
    print((Path(args.reports) / "ablation.md").read_text())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
