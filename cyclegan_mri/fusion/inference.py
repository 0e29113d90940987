"""Fusing aligned slices of two contrasts with an iVAN fusion run (``fuse.py``), and scoring fusions
(``evaluate.py --fusion``).

A fusion run (``train.py --model ivan --task fusion``) exports two networks that
share one set of weights: ``generators/fusion.keras`` takes a pair stacked on
channels and gives the fused slice; ``generators/decomposition.keras`` takes a
fused slice and gives the pair back. Scores follow the iVAN paper (AG, SF, EN,
Q_MI, Q^{AB/F}: ``fusion_metrics``), beside the classical fusions of
``fusion_rules`` on the same pairs.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import keras
import numpy as np

from cyclegan_mri import specs
from cyclegan_mri.data.images import decode_image, encode_png, to_intensity, to_model_range, to_uint8, with_channels
from cyclegan_mri.data.protocol import fingerprint
from cyclegan_mri.data.sources import load_folder
from cyclegan_mri.errors import DataError, UserError
from cyclegan_mri.fusion.metrics import fusion_scores, mean_fusion_scores
from cyclegan_mri.fusion.rules import RULES, fuse
from cyclegan_mri.metrics import psnr, ssim
from cyclegan_mri.models.ivan import DECOMPOSITION, FUSION
from cyclegan_mri.networks import invertible  # noqa: F401  registers the invertible layers for loading
from cyclegan_mri.record import load_run_options, require_kind
from cyclegan_mri.rundir import RunDir, write_atomic


def load_fusion_networks(run: RunDir) -> tuple[keras.Model, keras.Model]:
    """The fusion run's exported fuser and decomposition, or a one-line error for any other run."""
    saved = load_run_options(run.root)
    if saved is None:
        raise UserError(f"{run.root}: not a run directory (no run.json); train one with `python train.py --model "
                        f"ivan --task fusion --out {run.root}`")
    require_kind(saved, run.root, (specs.FUSION,), "fuse.py")
    paths = [run.generator(FUSION), run.generator(DECOMPOSITION)]
    if not all(path.exists() for path in paths):
        raise UserError(f"{run.generators}: no trained fusion network; train with `python train.py --out {run.root}` "
                        "first (a run that was stopped exports it when resumed with the same command)")
    return tuple(keras.saving.load_model(path, compile=False) for path in paths)


def check_pair(a: np.ndarray, b: np.ndarray, name: str) -> None:
    """Refuse a pair of different sizes: fusion needs aligned slices."""
    if a.shape[:2] != b.shape[:2]:
        raise DataError(f"{name}: the two slices differ in size ({a.shape[1]}x{a.shape[0]} and "
                        f"{b.shape[1]}x{b.shape[0]}); fusion needs aligned slices of one size")


def fuse_slices(fuser: keras.Model, pairs: Sequence[tuple[np.ndarray, np.ndarray]], batch_size: int = 8,
                names: Sequence[str] | None = None) -> list[np.ndarray]:
    """Fuse 8-bit aligned pairs at the network's size; each result, float intensities in [0, 255], at its
    pair's own size."""
    size = tuple(int(n) for n in fuser.input_shape[1:3])
    channels = int(fuser.input_shape[-1]) // 2
    names = names or [f"pair {i + 1}" for i in range(len(pairs))]
    for (a, b), name in zip(pairs, names):
        check_pair(a, b, name)
    results = []
    for start in range(0, len(pairs), batch_size):
        chunk = pairs[start:start + batch_size]
        a, b = ([with_channels(pair[k], channels)[0] for pair in chunk] for k in (0, 1))
        stacked = np.concatenate([to_model_range(a, size), to_model_range(b, size)], axis=-1)
        outputs = np.asarray(fuser(stacked, training=False))
        results.extend(to_intensity(out, np.shape(x)[:2]) for out, x in zip(outputs, a))
    return results


def decompose_slices(decomposer: keras.Model, fused: Sequence[np.ndarray]) -> list[tuple[np.ndarray, np.ndarray]]:
    """Split fused slices (float intensities or 8-bit) back into the two sources, each at its slice's size."""
    size = tuple(int(n) for n in decomposer.input_shape[1:3])
    channels = int(decomposer.input_shape[-1])
    results = []
    for image in fused:
        out = np.asarray(decomposer(to_model_range([image], size), training=False))[0]
        shape = np.shape(image)[:2]
        results.append((to_intensity(out[..., :channels], shape), to_intensity(out[..., channels:], shape)))
    return results


def matched_files(a: Path, b: Path) -> list[tuple[str, Path, Path]]:
    """(stem, file in ``a``, file in ``b``) for the slices of the same name (stem) in both folders."""
    slices_a, slices_b = (load_folder(folder, channels=None) for folder in (a, b))
    by_stem = {Path(s.name).stem: s for s in slices_b}
    return [(Path(s.name).stem, s, by_stem[Path(s.name).stem]) for s in slices_a if Path(s.name).stem in by_stem]


def fuse_path(run: RunDir, a: str | Path, b: str | Path, output: str | Path) -> list[Path]:
    """Fuse two aligned images, or two folders of same-named slices, into ``output`` (a .png, or a folder)."""

    fuser, _ = load_fusion_networks(run)
    a, b, output = Path(a), Path(b), Path(output)
    for path in (a, b):
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
    if a.is_dir() != b.is_dir():
        raise UserError(f"{a} and {b}: give two images or two folders of same-named slices, not one of each")
    if a.is_dir():
        matched = matched_files(a, b)
        if not matched:
            raise DataError(f"{a} and {b}: no slice appears under the same name in both folders")
        fused = fuse_slices(fuser, [(x.image, y.image) for _, x, y in matched], names=[x.name for _, x, _ in matched])
        written = [output / f"{stem}.png" for stem, _, _ in matched]
    else:
        if output.suffix.lower() != ".png":
            raise UserError(f"{output}: a fused slice is written as PNG; name it .png")
        images = [decode_image(path.read_bytes(), str(path), channels=None)[0] for path in (a, b)]
        fused, written = fuse_slices(fuser, [tuple(images)], names=[f"{a.name} and {b.name}"]), [output]
    for path, image in zip(written, fused):
        write_atomic(path, encode_png(to_uint8(image)))
    return written


def evaluate_fusion(run: RunDir, source, training: set[str] | None = None) -> dict:
    """Fuse every aligned pair of ``source`` (an ``evaluation.Source``) with the run and score it beside the
    classical fusions, with the PSNR and SSIM of its decomposition back into the two sources.

    Every fused image is scored as the 8-bit slice a user gets. The decomposition starts from that slice
    alone: decomposing the network's full two-channel output instead is exact to float precision
    (the network is invertible), so it would say nothing.
    """

    fuser, decomposer = load_fusion_networks(run)
    a_name, b_name = source.domains.names
    channels = int(fuser.input_shape[-1]) // 2
    pairs = [tuple(with_channels(s.image, channels)[0] for s in pair) for pair in source.pairs]
    names = [f"{pa.name} + {pb.name}" for pa, pb in source.pairs]
    fused = [to_uint8(f) for f in fuse_slices(fuser, pairs, names=names)]
    parts = decompose_slices(decomposer, fused)
    rows = []
    for name, (a, b), f, (part_a, part_b), pair in zip(names, pairs, fused, parts, source.pairs):
        row = {"name": name, **fusion_scores(gray(a), gray(b), gray(f)),
               f"decomposition_psnr_{a_name}": psnr(a, part_a), f"decomposition_psnr_{b_name}": psnr(b, part_b),
               f"decomposition_ssim_{a_name}": ssim(a, part_a), f"decomposition_ssim_{b_name}": ssim(b, part_b)}
        if training is not None:
            row["seen_in_training"] = any(fingerprint(s.image) in training for s in pair)
        rows.append(row)
    baselines = {}
    for rule in RULES:
        table = [{"name": name, **fusion_scores(gray(a), gray(b), gray(to_uint8(fuse(rule, gray(a), gray(b)))))}
                 for name, (a, b) in zip(names, pairs)]
        baselines[rule] = {**mean_fusion_scores(table), "per_image": table}
    decomposition = {key: _mean([row[key] for row in rows]) for key in rows[0] if key.startswith("decomposition")} \
        if rows else {}
    held_out = None if training is None or not rows else not any(row["seen_in_training"] for row in rows)
    return {"fusion": {"sources": [a_name, b_name], **mean_fusion_scores(rows), "decomposition": decomposition,
                       "per_image": rows, "held_out": held_out, "baselines": baselines}}


def gray(image: np.ndarray) -> np.ndarray:
    """One channel of a slice for the fusion metrics (colour slices are scored on their gray conversion)."""
    return with_channels(image, 1)[0] if np.ndim(image) == 3 else np.asarray(image)


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def format_fusion_table(results: dict, per_image: bool = True) -> str:
    """The fusion scores as a plain-text table: the model, then each classical fusion, then each pair."""
    keys = ("AG", "SF", "EN", "Q_MI", "Q_ABF")
    scores = results["fusion"]
    lines = [f"{'method':<12}" + "".join(f"{key:>9}" for key in keys)]
    for method, row in [("model", scores), *scores["baselines"].items()]:
        lines.append(f"{method:<12}" + "".join("        -" if row[key] is None else f"{row[key]:>9.3f}"
                                               for key in keys))
    for key, value in scores["decomposition"].items():
        lines.append(f"{key.replace('_', ' ')} (from the 8-bit fused slice): {value:.3f}")
    if per_image:
        lines.append("\nper pair")
        for row in scores["per_image"]:
            seen = "  (seen in training)" if row.get("seen_in_training") else ""
            lines.append(f"  {row['name']:<40}" + "".join(f"{row[key]:>9.3f}" for key in keys) + seen)
    return "\n".join(lines)
