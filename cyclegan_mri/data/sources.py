"""Read the two image domains of a dataset, from the RAR archive or from a folder, into memory.

Archive entries and folder files go through one path: each file is classified by
the name of the folder that holds it (case-insensitive), decoded in memory and
ordered by the number in its name. The folder names recognised:

- the tutorial's: ``TrainT1``/``t1`` hold domain A (T1), ``TrainT2``/``t2`` domain B (T2);
- the CycleGAN reference implementation's: ``trainA``, ``trainB``, ``testA``, ``testB``;
- plain ``A`` and ``B``;
- with ``--domains NAME_A NAME_B``, the domains' own names: ``MRI``/``CT``,
  ``trainMRI``, ``testCT`` and so on.

A ``test`` prefix puts images in the test split (never trained on; aligned pairs
are the test files of the same name in both domains), a ``train`` prefix or none
in the training split. Archive entries are never written to disk, so entry names
such as ``../x.png`` or ``/etc/x.png`` cannot escape anywhere.

Images keep their colour while the whole dataset is read; then all of them take
one channel count (``--channels``, or 3 if any image holds colour, else 1).
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_mri.data.images import channels_of, decode_image, is_image_name, with_channels
from cyclegan_mri.domains import GENERIC, TUTORIAL, Domains
from cyclegan_mri.errors import DataError

SPLITS = ("train", "test")
# Folder names (after an optional train/test prefix) of each domain, whatever the run calls its domains.
_TUTORIAL_KEYS = {"t1": 0, "t2": 1}
_GENERIC_KEYS = {"a": 0, "b": 1}
_NUMBER = re.compile(r"(\d+)")
LAYOUTS = ("trainA/ and trainB/ (testA/ and testB/ for scoring), A/ and B/, Tr1/TrainT1 and Tr2/TrainT2 "
           "or t1/ and t2/, or folders named after --domains")


@dataclass(frozen=True)
class Slice:
    """One 8-bit grayscale slice and where it came from."""

    name: str
    image: np.ndarray = field(repr=False)
    #: The path of the file (or archive entry) it was read from, for reports.
    entry: str = field(default="", repr=False, compare=False)

    @property
    def number(self) -> int | None:
        """The last number in the file name (``Image #12.png`` -> 12), if any."""
        found = _NUMBER.findall(Path(self.name).stem)
        return int(found[-1]) if found else None


@dataclass
class LoadReport:
    """What loading skipped or converted, for the summary line."""

    skipped_non_images: list[str] = field(default_factory=list)
    skipped_bad: list[str] = field(default_factory=list)
    converted: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        parts = []
        if self.skipped_non_images:
            parts.append(f"{len(self.skipped_non_images)} non-image file(s) skipped")
        if self.skipped_bad:
            parts.append(f"{len(self.skipped_bad)} unreadable image(s) skipped")
        if self.converted:
            kinds = sorted(set(self.converted.values()))
            parts.append(f"{len(self.converted)} image(s) converted ({'; '.join(kinds)})")
        return ", ".join(parts)


@dataclass(frozen=True)
class Role:
    """Where the images of one folder belong: split ("train" or "test"), domain side (0: A, 1: B), and
    whether the folder is named as the tutorial's (``t1``/``t2``)."""

    split: str
    side: int
    tutorial: bool = False


def folder_role(folder: str, names: Domains | None = None) -> Role | None:
    """The role of a folder from its name (``trainA``, ``TrainT1``, ``B``, ``testMRI``...), or None."""
    lower = folder.lower()
    # The whole name first, so that a domain named "testosterone" is not read as test + "osterone".
    readings = [(lower, "train")] + [(lower[len(p):], p) for p in SPLITS if lower.startswith(p) and lower != p]
    for key, split in readings:
        if names is not None and key in (names.a.lower(), names.b.lower()):
            return Role(split, 0 if key == names.a.lower() else 1, key in _TUTORIAL_KEYS)
    for key, split in readings:
        if key in _TUTORIAL_KEYS:
            return Role(split, _TUTORIAL_KEYS[key], tutorial=True)
        if key in _GENERIC_KEYS:
            return Role(split, _GENERIC_KEYS[key])
    return None


def entry_role(entry: str, names: Domains | None = None) -> Role | None:
    """The role of a file from the name of its parent folder, or None."""
    parts = entry.replace("\\", "/").split("/")
    return folder_role(parts[-2], names) if len(parts) >= 2 else None


def sort_key(name: str) -> tuple:
    """Order file names by the numbers in them, so ``#9`` comes before ``#10``."""
    stem = Path(name).name
    return tuple(int(p) if p.isdigit() else p.lower() for p in _NUMBER.split(stem))


Entry = tuple[str, Callable[[], bytes]]


def _archive_entries(path: Path) -> Iterator[Entry]:
    import rarfile

    try:
        archive = rarfile.RarFile(str(path))
        infos = [info for info in archive.infolist() if not info.is_dir()]
    except rarfile.NotRarFile:
        raise DataError(f"{path}: not a RAR archive; pass --data with the dataset's .RAR or a folder") from None
    except (rarfile.Error, OSError) as error:
        raise DataError(f"{path}: cannot read the archive ({error}); download it again") from None
    for info in infos:

        def read(info=info) -> bytes:
            try:
                return archive.read(info)
            except rarfile.RarCannotExec:
                # Stored entries are read by rarfile itself; compressed ones need an external tool.
                raise DataError(f"{path}: entry {info.filename!r} is compressed, and reading compressed RAR "
                                "entries needs an unrar tool (unrar, unar, 7z or bsdtar), none of which was found; "
                                "install one, or extract the archive and pass --data with the folder") from None
            except rarfile.Error as error:
                raise DataError(f"{path}: entry {info.filename!r} is unreadable ({error}); "
                                "the archive is damaged, download it again") from None

        yield info.filename, read


def _folder_entries(path: Path) -> Iterator[Entry]:
    for root, dirs, files in os.walk(path):
        dirs.sort()
        for name in sorted(files):
            full = Path(root) / name
            yield full.relative_to(path).as_posix(), full.read_bytes


def read_entries(entries: Iterable[Entry], source: str, skip_bad: bool = False,
                 report: LoadReport | None = None,
                 classify: Callable[[str], object | None] = entry_role) -> dict[object, list[Slice]]:
    """Decode the image entries of each group ``classify`` names, as stored (gray or colour), ordered by the
    numbers in their names. Entries that ``classify`` maps to None are ignored."""
    report = report if report is not None else LoadReport()
    found: dict[object, list[Slice]] = {}
    for name, read in entries:
        group = classify(name)
        if group is None:
            continue
        if not is_image_name(name):
            report.skipped_non_images.append(name)
            continue
        try:
            image, note = decode_image(read(), f"{source}: {name}", channels=None)
        except DataError as error:
            if not skip_bad:
                raise DataError(f"{error} (pass --skip-bad-images to skip such files)") from None
            warnings.warn(f"skipping {error}", stacklevel=2)
            report.skipped_bad.append(name)
            continue
        if note:
            report.converted[name] = note
        found.setdefault(group, []).append(Slice(Path(name).name, image, name))
    for slices in found.values():
        slices.sort(key=lambda s: sort_key(s.name))
    return found


def set_channels(groups: Iterable[list[Slice]], channels: int, report: LoadReport) -> list[list[Slice]]:
    """The slices of every group converted to ``channels``, conversions noted in ``report``."""
    converted = []
    for slices in groups:
        out = []
        for piece in slices:
            image, note = with_channels(piece.image, channels)
            if note:
                key = piece.entry or piece.name
                earlier = report.converted.get(key)
                report.converted[key] = f"{earlier}, {note}" if earlier else note
            out.append(Slice(piece.name, image, piece.entry))
        converted.append(out)
    return converted


@dataclass
class DomainImages:
    """Every image of a dataset: the training and test slices of domains A and B, in one channel count.

    ``tutorial`` says the data is laid out and named as the tutorial's (T1/T2 folders, T1/T2 domains), so
    that the dataset's hidden aligned pairs (``pairing``) apply to it.
    """

    domains: Domains
    channels: int
    train: tuple[list[Slice], list[Slice]]
    test: tuple[list[Slice], list[Slice]]
    tutorial: bool = False

    @property
    def has_test_split(self) -> bool:
        return bool(self.test[0] or self.test[1])


def load_domains(data: str | os.PathLike, domains: Domains | None = None, channels: int | None = None,
                 skip_bad: bool = False, report: LoadReport | None = None,
                 require_training: bool = True) -> DomainImages:
    """The images of a RAR archive or of a folder, by split and domain (see the module doc for layouts).

    ``domains`` names the domains (and makes folders of those names count); by default they are T1 and T2
    for the tutorial's folder names, A and B otherwise. ``channels`` (1 or 3) converts every image; None
    detects it (``images.channels_of``). ``require_training`` refuses data without training images of
    both domains (a folder of aligned pairs to score may hold test folders only).
    """
    path = Path(data)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; pass --data with the dataset's .RAR or a folder")
    report = report if report is not None else LoadReport()
    entries = _folder_entries(path) if path.is_dir() else _archive_entries(path)
    folders: dict[Role, set[str]] = {}

    def classify(name: str) -> Role | None:
        role = entry_role(name, domains)
        if role is not None:
            folders.setdefault(role, set()).add(name.replace("\\", "/").split("/")[-2])
        return role

    found = read_entries(entries, str(path), skip_bad, report, classify)
    if not found:
        raise DataError(f"{path}: no images in a known layout; expected {LAYOUTS}")
    tutorial_named = all(role.tutorial for role in found)
    names = domains or (TUTORIAL if tutorial_named else GENERIC)
    groups = {(role.split, role.side): [] for role in found}
    for role, slices in found.items():
        groups[(role.split, role.side)].extend(slices)
    for slices in groups.values():
        slices.sort(key=lambda s: sort_key(s.name))
    train = [groups.get(("train", side), []) for side in (0, 1)]
    for side in (0, 1):
        if require_training and not train[side]:
            raise DataError(_missing_domain(path, names, side, train[1 - side], folders))
    channels = channels or channels_of(
        ((s.entry, s.image) for slices in found.values() for s in slices), str(path))
    test = [groups.get(("test", side), []) for side in (0, 1)]
    train_a, train_b, test_a, test_b = set_channels([*train, *test], channels, report)
    return DomainImages(names, channels, (train_a, train_b), (test_a, test_b),
                        tutorial=tutorial_named and names.directions == TUTORIAL.directions)


def _missing_domain(path: Path, names: Domains, side: int, others: list[Slice],
                    folders: dict[Role, set[str]]) -> str:
    """The error for a dataset with no training images of one domain: what was found and what is expected."""
    name = names.names[side]
    if not others:
        return (f"{path}: no training images of either domain; expected {LAYOUTS} "
                "(test folders alone are not enough)")
    found = sorted({folder for role, seen in folders.items() if role.split == "train" and role.side != side
                    for folder in seen})
    expected = sorted({_counterpart(folder, names) for folder in found})
    return (f"{path}: {len(others)} training images of {names.names[1 - side]} in {', '.join(f + '/' for f in found)}"
            f" but none of {name}; put them in {' or '.join(f + '/' for f in expected)}")


def _counterpart(folder: str, names: Domains) -> str:
    """The folder name of the other domain in the same layout: trainA -> trainB, TrainT2 -> TrainT1."""
    swaps = {"a": "b", "b": "a", "t1": "t2", "t2": "t1", names.a.lower(): names.b, names.b.lower(): names.a}
    lower = folder.lower()
    for key, other in swaps.items():
        if lower.endswith(key) and lower[:-len(key)] in ("", *SPLITS):
            tail = folder[len(folder) - len(key):]
            return folder[:len(folder) - len(key)] + (other.upper() if tail.isupper() else other)
    return "the other domain's folder"


def load_folder(folder: str | os.PathLike, skip_bad: bool = False, report: LoadReport | None = None,
                channels: int | None = 1) -> list[Slice]:
    """All images directly inside one folder (a user's own slices to translate), in ``channels``
    (None: each as stored)."""
    path = Path(folder)
    if not path.is_dir():
        raise DataError(f"{path}: no such folder")
    report = report if report is not None else LoadReport()
    entries = ((p.name, p.read_bytes) for p in path.iterdir() if p.is_file())
    found = read_entries(entries, str(path), skip_bad, report, classify=lambda name: "all").get("all", [])
    return found if channels is None else set_channels([found], channels, report)[0]
