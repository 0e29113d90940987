"""The dataset's hidden T1/T2 pairs and the held-out test split used for every quality claim.

The archive presents T1 and T2 as unpaired, but 43 slices exist in both contrasts,
aligned pixel for pixel: T1 ``Image #k`` is T2 ``Image #(k+60)`` for k = 10..40 and
T2 ``Image #(k+70)`` for k = 41..55. Sorted by k, every fifth pair from the third is
held out for testing (T1 #12, 17, 25, ..., 55).
"""

from __future__ import annotations

import os
from pathlib import Path

from cyclegan_mri.data.sources import LoadReport, Slice, load_folder
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


def test_pairs(t1: list[Slice], t2: list[Slice], all_pairs: bool = False) -> list[Pair]:
    """The 9 held-out pairs (or all 43 with ``all_pairs``); an error if the data has none."""
    pairs = dataset_pairs(t1, t2)
    if not pairs:
        raise DataError("the data holds none of the dataset's aligned T1/T2 pairs; "
                        "pass --pairs DIR with t1/ and t2/ folders of your own aligned pairs")
    return pairs if all_pairs else split_pairs(pairs)[1]


def without_test_pairs(t1: list[Slice], t2: list[Slice]) -> tuple[list[Slice], list[Slice]]:
    """The slices left for training when neither image of a test pair may be seen."""
    held = {id(s) for pair in split_pairs(dataset_pairs(t1, t2))[1] for s in pair}
    return [s for s in t1 if id(s) not in held], [s for s in t2 if id(s) not in held]


def folder_pairs(folder: str | os.PathLike, skip_bad: bool = False,
                 report: LoadReport | None = None) -> tuple[list[Slice], list[Slice], list[Pair]]:
    """A user's aligned pairs: every slice of ``folder/t1`` and ``folder/t2``, and the pairs matched by name."""
    root = Path(folder)
    t1, t2 = load_folder(root / "t1", skip_bad, report), load_folder(root / "t2", skip_bad, report)
    by_name = {s.name: s for s in t2}
    pairs = [(s, by_name[s.name]) for s in t1 if s.name in by_name]
    if not pairs:
        raise DataError(f"{root}: no file name appears in both t1/ and t2/; aligned pairs must share a name")
    return t1, t2, pairs
