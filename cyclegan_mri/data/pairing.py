"""Aligned pairs: the dataset's hidden T1/T2 pairs and their held-out split, and pairs matched by file name.

The archive presents T1 and T2 as unpaired, but 43 slices exist in both contrasts,
aligned pixel for pixel: T1 ``Image #k`` is T2 ``Image #(k+60)`` for k = 10..40 and
T2 ``Image #(k+70)`` for k = 41..55. Sorted by k, every fifth pair from the third is
held out for testing (T1 #12, 17, 25, ..., 55).

Other data is aligned where its test folders (``testA``/``testB``) hold files of
the same name in both domains, as in the CycleGAN reference's datasets.
"""

from __future__ import annotations

import os
from pathlib import Path

from cyclegan_mri.data.sources import DomainImages, LoadReport, Slice, load_domains
from cyclegan_mri.domains import Domains
from cyclegan_mri.errors import DataError

Pair = tuple[Slice, Slice]


def t2_partner(t1_number: int) -> int | None:
    """The number of the T2 slice aligned with T1 ``Image #t1_number``, or None."""
    if 10 <= t1_number <= 40:
        return t1_number + 60
    if 41 <= t1_number <= 55:
        return t1_number + 70
    return None


def dataset_pairs(t1: list[Slice], t2: list[Slice]) -> list[Pair]:
    """The aligned (T1, T2) pairs present in the given slices, sorted by T1 number."""
    by_number = {s.number: s for s in t2}
    pairs = []
    for x in t1:
        partner = t2_partner(x.number) if x.number is not None else None
        if partner in by_number:
            pairs.append((x, by_number[partner]))
    return sorted(pairs, key=lambda pair: pair[0].number)


def is_test_position(position: int) -> bool:
    """Every fifth pair, starting with the third (positions 2, 7, 12, ...)."""
    return position % 5 == 2


def split_pairs(pairs: list[Pair]) -> tuple[list[Pair], list[Pair]]:
    """(train, test) pairs of the held-out split."""
    train = [p for i, p in enumerate(pairs) if not is_test_position(i)]
    test = [p for i, p in enumerate(pairs) if is_test_position(i)]
    return train, test


def matched_by_name(a: list[Slice], b: list[Slice]) -> list[Pair]:
    """The (A, B) slices of the same file name, in A's order."""
    by_name = {s.name: s for s in b}
    return [(s, by_name[s.name]) for s in a if s.name in by_name]


def test_pairs(images: DomainImages, all_pairs: bool = False) -> list[Pair]:
    """The aligned pairs a run is scored on: the test folders' files of the same name; or else, for the
    tutorial's data, its 9 held-out hidden pairs (all 43 with ``all_pairs``); or else none."""
    if images.has_test_split:
        return matched_by_name(*images.test)
    if images.tutorial:
        pairs = dataset_pairs(*images.train)
        return pairs if all_pairs else split_pairs(pairs)[1]
    return []


def training_pairs(images: DomainImages) -> list[Pair]:
    """Aligned pairs known to lie outside the scored ones (the lookup table's fit): the tutorial data's 34."""
    if images.tutorial and not images.has_test_split:
        return split_pairs(dataset_pairs(*images.train))[0]
    return []


def without_test_pairs(t1: list[Slice], t2: list[Slice]) -> tuple[list[Slice], list[Slice]]:
    """The slices left for training when neither image of a test pair may be seen."""
    held = {id(s) for pair in split_pairs(dataset_pairs(t1, t2))[1] for s in pair}
    return [s for s in t1 if id(s) not in held], [s for s in t2 if id(s) not in held]


def folder_pairs(folder: str | os.PathLike, domains: Domains | None = None, channels: int | None = None,
                 skip_bad: bool = False, report: LoadReport | None = None) -> DomainImages:
    """A user's aligned pairs: the images of ``folder`` in any layout ``load_domains`` knows (``t1/``
    and ``t2/``, ``A/`` and ``B/``, ``testA/`` and ``testB/``, the domains' names), all in the test split,
    where the pairs are the files of the same name in both domains."""
    root = Path(folder)
    images = load_domains(root, domains, channels, skip_bad, report, require_training=False)
    a, b = (images.train[side] + images.test[side] for side in (0, 1))
    images = DomainImages(images.domains, images.channels, ([], []), (a, b))
    if not matched_by_name(a, b):
        raise DataError(f"{root}: no file name appears in both {images.domains.a} and {images.domains.b} "
                        "folders; aligned pairs must share a name")
    return images
