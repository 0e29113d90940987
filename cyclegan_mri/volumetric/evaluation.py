"""Scoring a 3D run on aligned volume pairs (``evaluate.py`` for ``--model cyclegan3d``)."""

from __future__ import annotations

import numpy as np

from cyclegan_mri.domains import Domains
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.translation.evaluation import fingerprint
from cyclegan_mri.translation.inference import load_generators
from cyclegan_mri.volumetric.inference import score_pair


def evaluate_volumes(run: RunDir, pairs: list, domains: Domains, spacing=None, write_translations: bool = True,
                     training: set[str] | None = None) -> dict:
    """``evaluate`` for a 3D run: each generator translates the source volume of every aligned (name, A file,
    B file) pair as a volume and is scored against its partner (``volume_inference.score_pair``), beside the
    identity. Translations go to ``translations/<direction>/`` on each source's own grid."""
    results = {}
    for direction, generator in load_generators(run).items():
        side = domains.source_side(direction)
        names_of = domains.source_and_target(direction)
        rows, identity = [], []
        for name, *files in pairs:
            source, target = files[side], files[1 - side]
            write_to = run.translations / direction / name if write_translations else None
            scores = score_pair(generator, source, target, spacing, write_to=write_to)
            row = {"name": f"{source.parent.name}/{name} -> {target.parent.name}/{name}", **scores["model"]}
            if training is not None:
                row["seen_in_training"] = any(fingerprint(data) in training for data in scores["prepared"])
            rows.append(row)
            identity.append({"name": row["name"], **scores["identity"]})
        means = lambda table: {key: float(np.mean([r[key] for r in table])) if table else None  # noqa: E731
                               for key in ("psnr", "ssim", "nmse")}
        results[direction] = {"source": names_of[0], "target": names_of[1], **means(rows), "per_image": rows,
                              "held_out": (None if training is None or not rows
                                           else not any(r["seen_in_training"] for r in rows)),
                              "baselines": {"identity": {**means(identity), "per_image": identity}} if rows else {}}
    return results
