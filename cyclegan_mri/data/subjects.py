"""Subjects of a folder of NIfTI volumes: which volume holds which contrast of whom, in the layouts users bring.

Real MRI comes as one volume per contrast and subject, named in a few ways:

- BraTS case folders, 2018-2021 naming ``Brats18_2013_11_1/Brats18_2013_11_1_t1.nii.gz`` (``_t1ce``, ``_t2``,
  ``_flair``) or 2023 naming ``BraTS-GLI-00000-000/BraTS-GLI-00000-000-t1n.nii.gz`` (``-t1c``, ``-t2w``, ``-t2f``);
- IXI: ``IXI-T1/IXI002-Guys-0828-T1.nii.gz`` and ``IXI-T2/IXI002-Guys-0828-T2.nii.gz``;
- BIDS-like exports: ``sub-01/anat/sub-01_T1w.nii.gz``;
- one folder per domain (``t1/``, ``t2/``, ``trainA/``, ``testB/`` or the domains' own names) holding volumes
  of the same file name for one subject.

A file names its contrast by the last token of its name (after ``_``, ``-`` or ``.``), read through
``CONTRAST_ALIASES`` (``t1n`` and ``T1w`` are T1, ``t2f`` is FLAIR...), and its subject by the rest; a file in a
domain folder is that domain's, its subject its file name. Files of other contrasts (labels, masks, predictions)
are passed over. Subjects under a folder whose name starts with ``test`` (or in a ``test`` domain folder) are
test subjects, never trained on.

A run splits subjects, never slices or patches (``split_subjects``), the 2D models' slices and the 3D
CycleGAN's volumes alike: test subjects and ``--holdout-cases K`` of the others (a fixed draw, the same for
every seed) are held out whole. A paired model trains on both contrasts of each training subject. An unpaired
model must not be handed hidden pairs, so by default its two domains come from disjoint subjects: the training
subjects are dealt alternately to A and to B (``--same-subjects`` takes both contrasts of every subject
instead).
"""

from __future__ import annotations

import os
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from cyclegan_mri.data.nifti import is_nifti, nifti_stem
from cyclegan_mri.data.sources import folder_role, sort_key
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import DataError, UserError

if TYPE_CHECKING:
    from cyclegan_mri.record import TrainOptions

# The names a contrast goes by in file names (lower case), by the contrast a domain name stands for.
CONTRAST_ALIASES: dict[str, tuple[str, ...]] = {
    "t1": ("t1", "t1w", "t1n"),
    "t2": ("t2", "t2w"),
    "t1ce": ("t1ce", "t1c", "t1gd", "t1post"),
    "flair": ("flair", "t2f", "t2flair"),
    "pd": ("pd", "pdw"),
}
_TOKEN = re.compile(r"^(?P<subject>.+?)[_.-](?P<token>[A-Za-z0-9]+)$")
# The draws of held-out subjects and of the A/B halves are fixed, the same for every --seed.
SPLIT_SEED = 20200


def contrast_tokens(domain: str) -> tuple[str, ...]:
    """The file-name tokens of the contrast a domain name stands for (``T1`` -> t1, t1w, t1n); an unknown name
    stands for itself."""
    key = domain.lower()
    for aliases in CONTRAST_ALIASES.values():
        if key in aliases:
            return aliases
    return (key,)


@dataclass
class Subject:
    """One subject's volumes of the two domains (either may be missing) and whether it is a test subject."""

    name: str
    files: dict[int, Path] = field(default_factory=dict)
    test: bool = False

    @property
    def complete(self) -> bool:
        """Whether the subject has a volume of both domains."""
        return 0 in self.files and 1 in self.files


def is_volume_folder(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a folder holding NIfTI volumes (at any depth) and no other images to train on."""
    root = Path(path)
    if not root.is_dir():
        return False
    for _, _, files in os.walk(root):
        if any(is_nifti(name) for name in files):
            return True
    return False


def find_subjects(folder: str | os.PathLike, domains: Domains) -> list[Subject]:
    """Every subject in ``folder`` with a volume of at least one of the two domains, in name order."""
    root = Path(folder)
    if not root.is_dir():
        raise DataError(f"{root}: not a folder of NIfTI volumes")
    tokens = (contrast_tokens(domains.a), contrast_tokens(domains.b))
    subjects: dict[tuple[bool, str], Subject] = {}
    for directory, _, files in sorted(os.walk(root)):
        relative = Path(directory).relative_to(root)
        test = any(part.lower().startswith("test") for part in relative.parts)
        role = folder_role(Path(directory).name, domains) if relative.parts else None
        for file in sorted(f for f in files if is_nifti(f)):
            stem = nifti_stem(file)
            if role is not None:
                side, name, test_here = role.side, stem, test or role.split == "test"
            else:
                match = _TOKEN.match(stem)
                token = match["token"].lower() if match else ""
                side = 0 if token in tokens[0] else 1 if token in tokens[1] else None
                if side is None:
                    continue  # another contrast, a label map or a mask
                name, test_here = match["subject"], test
            subject = subjects.setdefault((test_here, name), Subject(name, test=test_here))
            if side in subject.files:
                raise DataError(f"{Path(directory) / file}: a second {domains.names[side]} volume for subject {name} "
                                f"(the first is {subject.files[side]}); keep one volume per contrast and subject")
            subject.files[side] = Path(directory) / file
    if not subjects:
        raise DataError(f"{root}: no {domains.a} or {domains.b} volumes (.nii, .nii.gz) found; name each volume "
                        f"after its contrast (<subject>_{domains.a.lower()}.nii.gz, IXI's <subject>-{domains.a}.nii.gz, "
                        f"BraTS case folders) or put them in {domains.a.lower()}/ and {domains.b.lower()}/ folders")
    return sorted(subjects.values(), key=lambda s: (s.test, sort_key(s.name)))


class Named(Protocol):
    """Anything with a name: a BraTS case, a subject."""

    name: str


def held_out_cases(cases: Sequence[Named], count: int) -> tuple[str, ...]:
    """The names of ``count`` cases (or subjects) to keep out of training: a fixed draw from the sorted names, the
    same for every --seed, so that runs of several seeds are scored on one test set."""
    if count < 0:
        raise UserError(f"--holdout-cases must be 0 or more, got {count}")
    if count >= len(cases):
        raise UserError(f"--holdout-cases {count} would leave no training case (the data has {len(cases)})")
    names = sorted((case.name for case in cases), key=sort_key)
    chosen = np.random.default_rng(SPLIT_SEED).permutation(len(names))[:count]
    return tuple(sorted((names[i] for i in chosen), key=sort_key))


def held_out_subjects(subjects: list[Subject], count: int) -> tuple[str, ...]:
    """The names of ``count`` complete subjects (both contrasts) to hold out: the fixed draw Vox2Vox holds cases
    out by (``held_out_cases``), the same for every seed, so that runs of several seeds share a test set."""
    complete = [s for s in subjects if s.complete and not s.test]
    if count > len(complete) - 1 and count:
        raise UserError(f"--holdout-cases {count}: the data has {len(complete)} training subjects with both "
                        "contrasts; at least one must be left to train on")
    return held_out_cases(complete, count)


@dataclass
class SubjectSplit:
    """Which subjects a run trains on, for which domains, and which it holds out."""

    training: list[tuple[Subject, tuple[int, ...]]]
    held_out: tuple[str, ...]
    test: list[Subject]


def split_subjects(subjects: list[Subject], paired: bool, same_subjects: bool, held_out: tuple[str, ...]
                   ) -> SubjectSplit:
    """The training subjects with the domains each gives (see the module doc), the held-out names and the test
    subjects (the test folder's and the held-out ones that have both contrasts)."""
    held = set(held_out)
    training = [s for s in subjects if not s.test and s.name not in held]
    test = [s for s in subjects if (s.test or s.name in held) and s.complete]
    if paired:
        chosen = [(s, (0, 1)) for s in training if s.complete]
    elif same_subjects:
        chosen = [(s, tuple(sorted(s.files))) for s in training]
    else:
        # Complete subjects are dealt alternately to A and B in a fixed shuffled order; the others give what they have.
        complete = [s for s in training if s.complete]
        order = np.random.default_rng(SPLIT_SEED + 1).permutation(len(complete))
        side_of = {complete[j].name: k % 2 for k, j in enumerate(order)}
        chosen = [(s, (side_of[s.name],) if s.complete else tuple(s.files)) for s in training]
    return SubjectSplit(chosen, tuple(sorted(held)), test)


def subject_split(options: TrainOptions) -> tuple[list[Subject], SubjectSplit]:
    """Every subject of ``options.data`` and the split a run of ``options`` trains on (the held-out names from
    the resumed run when it has them, else drawn)."""
    domains = Domains.of(options.domains) if options.domains else TUTORIAL
    subjects = find_subjects(options.data, domains)
    held_out = (tuple(options.held_out) if options.held_out is not None
                else held_out_subjects(subjects, options.holdout_cases or 0))
    return subjects, split_subjects(subjects, options.spec.paired, options.same_subjects, held_out)
