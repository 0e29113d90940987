"""The training data of a run: slices read once, split, and scaled to the model's range.

Unpaired data (CycleGAN) is every training slice of domains A and B; paired data
(pix2pix) is aligned (A, B) pairs, ``x[i]`` lying on ``y[i]``: the tutorial
dataset's hidden pairs, the training files of the same name in both domains of a
folder, or a folder of the user's own pairs (``--pairs``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from cyclegan_mri.data import pairing
from cyclegan_mri.data.fetch import ensure_archive
from cyclegan_mri.data.images import to_model_range
from cyclegan_mri.data.protocol import fingerprint
from cyclegan_mri.data.sources import DomainImages, LoadReport, Slice, load_domains
from cyclegan_mri.data.subjects import is_volume_folder
from cyclegan_mri.data.volume_slices import training_slices
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import DataError, UserError

if TYPE_CHECKING:
    import tensorflow as tf

    from cyclegan_mri.record import TrainOptions


@dataclass
class TrainingData:
    """Domain A (x) and domain B (y) training slices, as 8-bit originals and model-range arrays.

    When ``paired``, ``a[i]`` and ``b[i]`` (and ``x[i]``, ``y[i]``) are aligned images of one slice.
    """

    a: list[Slice]
    b: list[Slice]
    x: np.ndarray
    y: np.ndarray
    domains: Domains
    channels: int = 1
    report: LoadReport = field(default_factory=LoadReport)
    paired: bool = False
    #: Cut from volumes: the names of the subjects held out of training (``subjects.split_subjects``).
    held_out: tuple[str, ...] | None = None

    def describe(self) -> str:
        a, b = self.domains.names
        if self.held_out is not None:
            subjects = [len({s.name.partition(":")[0] for s in side}) for side in (self.a, self.b)]
            lines = [f"{name}: {len(side)} slices of {count} subjects -> {array.shape}" for name, side, count, array
                     in zip(self.domains.names, (self.a, self.b), subjects, (self.x, self.y))]
            lines.append(f"held out: {len(self.held_out)} subjects" + (f" ({', '.join(self.held_out[:4])}"
                                                                       f"{', ...' if len(self.held_out) > 4 else ''})"
                                                                       if self.held_out else ""))
        elif self.paired:
            lines = [f"aligned {a}/{b} pairs: {len(self.a)} -> {self.x.shape} and {self.y.shape}"]
        else:
            lines = [f"{a}: {len(self.a)} images -> {self.x.shape}", f"{b}: {len(self.b)} images -> {self.y.shape}"]
        if summary := self.report.summary():
            lines.append(f"note: {summary}")
        return "\n".join(lines)

    def sample_inputs(self) -> tuple[np.ndarray, np.ndarray]:
        """The fixed images of the per-epoch sample grid: the first of each domain, (1, H, W, C)."""
        return self.x[:1], self.y[:1]

    @classmethod
    def load(cls, options: TrainOptions) -> TrainingData:
        """The slices a run of ``options`` trains on: aligned pairs for a paired model, else both domains; cut
        from the volumes when ``--data`` is a folder of NIfTI volumes (``volume_slices``)."""
        if is_volume_folder(options.data):
            a, b, split = training_slices(options)
            domains = Domains.of(options.domains) if options.domains else TUTORIAL
            return TrainingData(a, b, to_model_range([s.image for s in a], options.image_size),
                                to_model_range([s.image for s in b], options.image_size), domains,
                                paired=options.spec.paired, held_out=split.held_out)
        volume_only = [flag for flag, given in (("--holdout-cases", options.holdout_cases),
                                                ("--plane", options.plane != "axial"),
                                                ("--same-subjects", options.same_subjects)) if given]
        if volume_only:
            raise UserError(f"{', '.join(volume_only)}: for a --data folder of NIfTI volumes; {options.data} holds "
                            "images (the tutorial's test pairs are held out by --holdout)")
        settings = dict(accept_checksum=options.accept_checksum, skip_bad=options.skip_bad_images,
                        domains=_domains(options), channels=options.channels)
        if options.spec.paired:
            return load_paired(options.data, options.image_size, options.holdout, options.pairs, **settings)
        return load_unpaired(options.data, options.image_size, options.holdout, **settings)

    @classmethod
    def selection(cls, options: TrainOptions) -> set[str]:
        """Fingerprints of every slice a run of ``options`` trains on, read as ``load`` reads them."""
        if is_volume_folder(options.data):
            a, b, _ = training_slices(options)
            return {fingerprint(s.image) for s in (*a, *b)}
        settings = dict(accept_checksum=options.accept_checksum, skip_bad=options.skip_bad_images,
                        domains=options.run_domains, channels=options.channels)
        if options.spec.paired:
            _, pairs = paired_slices(options.data, options.holdout, options.pairs, **settings)
            slices = [s for pair in pairs for s in pair]
        else:
            _, a, b = unpaired_slices(options.data, options.holdout, **settings)
            slices = [*a, *b]
        return {fingerprint(s.image) for s in slices}

    def steps_per_epoch(self, options: TrainOptions) -> int:
        from cyclegan_mri.data.pipeline import check_batch_size, steps_per_epoch  # defers TensorFlow

        check_batch_size(options.batch, dict(zip(self.domains.names, (len(self.x), len(self.y)))))
        return steps_per_epoch(len(self.x), len(self.y), options.batch)

    def dataset(self, options: TrainOptions, first_epoch: int, epochs: int) -> tf.data.Dataset:
        from cyclegan_mri.data.pipeline import paired_dataset, unpaired_dataset  # defers TensorFlow

        make = paired_dataset if self.paired else unpaired_dataset
        return make(self.x, self.y, options.batch, options.seed, augmented=options.augment, first_epoch=first_epoch,
                    epochs=epochs, crop=options.crop)

    def decided(self) -> dict:
        decided = {"domains": self.domains.names, "channels": self.channels}
        if self.held_out is not None:
            decided.update(holdout_cases=len(self.held_out), held_out=self.held_out)
        return decided


def _domains(options: TrainOptions) -> Domains | None:
    """The domains ``--domains`` or a resumed run names, or None to let the data name them."""
    return Domains.of(options.domains) if options.domains else None


def read_dataset(data: str | Path, accept_checksum: bool = False, skip_bad: bool = False,
                 report: LoadReport | None = None, domains: Domains | None = None,
                 channels: int | None = None) -> tuple[Path, DomainImages]:
    """The archive or folder actually read for ``--data`` (fetched when it is the missing default), and all
    its images (``sources.load_domains``)."""
    path = ensure_archive(Path(data), accept_mismatch=accept_checksum)
    return path, load_domains(path, domains, channels, skip_bad, report)


def unpaired_slices(data: str | Path, holdout: bool = False, accept_checksum: bool = False, skip_bad: bool = False,
                    report: LoadReport | None = None, domains: Domains | None = None,
                    channels: int | None = None) -> tuple[DomainImages, list[Slice], list[Slice]]:
    """All images of ``data``, and the A and B slices an unpaired run trains on: the training split, with
    ``holdout`` neither image of a test pair of the tutorial's data (other data's test folders are never
    trained on)."""
    _, images = read_dataset(data, accept_checksum, skip_bad, report, domains, channels)
    a, b = images.train
    if holdout and images.tutorial:
        a, b = pairing.without_test_pairs(a, b)
    return images, a, b


def paired_slices(data: str | Path, holdout: bool = False, pairs: str | Path | None = None,
                  accept_checksum: bool = False, skip_bad: bool = False, report: LoadReport | None = None,
                  domains: Domains | None = None,
                  channels: int | None = None) -> tuple[DomainImages, list[pairing.Pair]]:
    """All images read, and the aligned pairs a paired run trains on: the user's ``pairs`` folder (files of the
    same names in both domains' folders), or else those of ``data`` (the tutorial's: its hidden pairs, only
    the 34 training pairs with ``holdout``; other data: the training files of the same name)."""
    if pairs is not None:
        if holdout:
            raise UserError("--holdout leaves out the dataset's test pairs; with --pairs, keep your own test pairs "
                            "out of DIR instead")
        images = pairing.folder_pairs(pairs, domains, channels, skip_bad, report)
        return images, pairing.matched_by_name(*images.test)
    _, images = read_dataset(data, accept_checksum, skip_bad, report, domains, channels)
    if images.tutorial:
        matched = pairing.dataset_pairs(*images.train)
        if holdout:
            matched = pairing.split_pairs(matched)[0]
    else:
        matched = pairing.matched_by_name(*images.train)
    if not matched:
        a, b = images.domains.names
        raise DataError(f"{data}: no aligned {a}/{b} pairs (training files of the same name in both domains); "
                        f"pass --pairs DIR with {a}/ and {b}/ folders of aligned slices of the same names")
    return images, matched


def load_unpaired(data: str | Path, image_size: tuple[int, int], holdout: bool = False,
                  accept_checksum: bool = False, skip_bad: bool = False, domains: Domains | None = None,
                  channels: int | None = None) -> TrainingData:
    """The training slices of ``--data`` (see ``unpaired_slices``), scaled to the model's range."""
    report = LoadReport()
    images, a, b = unpaired_slices(data, holdout, accept_checksum, skip_bad, report, domains, channels)
    return TrainingData(a, b, to_model_range([s.image for s in a], image_size),
                        to_model_range([s.image for s in b], image_size), images.domains, images.channels, report)


def load_paired(data: str | Path, image_size: tuple[int, int], holdout: bool = False, pairs: str | Path | None = None,
                accept_checksum: bool = False, skip_bad: bool = False, domains: Domains | None = None,
                channels: int | None = None) -> TrainingData:
    """Aligned training pairs (see ``paired_slices``), scaled to the model's range."""
    report = LoadReport()
    images, matched = paired_slices(data, holdout, pairs, accept_checksum, skip_bad, report, domains, channels)
    a, b = [x for x, _ in matched], [y for _, y in matched]
    for x, y in matched:
        if x.image.shape[:2] != y.image.shape[:2]:
            raise DataError(f"{x.name}: its {images.domains.a} image is {x.image.shape[1]}x{x.image.shape[0]} but "
                            f"its {images.domains.b} image is {y.image.shape[1]}x{y.image.shape[0]}; aligned pairs "
                            "must have one size")
    return TrainingData(a, b, to_model_range([s.image for s in a], image_size),
                        to_model_range([s.image for s in b], image_size), images.domains, images.channels, report,
                        paired=True)
