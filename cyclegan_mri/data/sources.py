"""Read the T1 and T2 slices of a dataset, from the RAR archive or from a folder, into memory.

Archive entries and folder files go through one path: each file is classified by
the name of the folder that holds it (``TrainT1``/``t1`` for T1, ``TrainT2``/``t2``
for T2, case-insensitive), decoded in memory and ordered by the number in its
name. Archive entries are never written to disk, so entry names such as
``../x.png`` or ``/etc/x.png`` cannot escape anywhere.
"""

from __future__ import annotations

import os
import re
import warnings
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from cyclegan_mri.data.images import decode_image, is_image_name
from cyclegan_mri.errors import DataError

DOMAINS = ("t1", "t2")
_FOLDER_NAMES = {"traint1": "t1", "t1": "t1", "traint2": "t2", "t2": "t2"}
_NUMBER = re.compile(r"(\d+)")


@dataclass(frozen=True)
class Slice:
    """One 8-bit grayscale slice and where it came from."""

    name: str
    image: np.ndarray = field(repr=False)

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


def sort_key(name: str) -> tuple:
    """Order file names by the numbers in them, so ``#9`` comes before ``#10``."""
    stem = Path(name).name
    return tuple(int(p) if p.isdigit() else p.lower() for p in _NUMBER.split(stem))


def domain_of(entry: str) -> str | None:
    """The domain of a file from the name of its parent folder, or None."""
    parts = entry.replace("\\", "/").split("/")
    if len(parts) < 2:
        return None
    return _FOLDER_NAMES.get(parts[-2].lower())


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
                 classify: Callable[[str], str | None] = domain_of) -> dict[str, list[Slice]]:
    """Decode the image entries of each group ``classify`` names, ordered by the numbers in their names.

    Entries that ``classify`` maps to None are ignored.
    """
    report = report if report is not None else LoadReport()
    found: dict[str, list[Slice]] = {}
    for name, read in entries:
        domain = classify(name)
        if domain is None:
            continue
        if not is_image_name(name):
            report.skipped_non_images.append(name)
            continue
        try:
            image, note = decode_image(read(), f"{source}: {name}")
        except DataError as error:
            if not skip_bad:
                raise DataError(f"{error} (pass --skip-bad-images to skip such files)") from None
            warnings.warn(f"skipping {error}", stacklevel=2)
            report.skipped_bad.append(name)
            continue
        if note:
            report.converted[name] = note
        found.setdefault(domain, []).append(Slice(Path(name).name, image))
    for slices in found.values():
        slices.sort(key=lambda s: sort_key(s.name))
    return found


def load_domains(data: str | os.PathLike, skip_bad: bool = False,
                 report: LoadReport | None = None) -> tuple[list[Slice], list[Slice]]:
    """The T1 and T2 slices of a RAR archive or of a folder (see the module doc for layouts)."""
    path = Path(data)
    if not path.exists():
        raise DataError(f"{path}: no such file or folder; pass --data with the dataset's .RAR or a folder")
    if path.is_dir():
        entries = _folder_entries(path)
    else:
        entries = _archive_entries(path)
    found = read_entries(entries, str(path), skip_bad, report)
    for domain in DOMAINS:
        if not found.get(domain):
            raise DataError(
                f"{path}: no {domain.upper()} images found; expected them in a folder named "
                f"Train{domain.upper()} (as Tr1/TrainT1 in the archive) or {domain}/")
    return found["t1"], found["t2"]


def load_folder(folder: str | os.PathLike, skip_bad: bool = False,
                report: LoadReport | None = None) -> list[Slice]:
    """All images directly inside one folder (for translating or scoring a user's own slices)."""
    path = Path(folder)
    if not path.is_dir():
        raise DataError(f"{path}: no such folder")
    entries = ((p.name, p.read_bytes) for p in path.iterdir() if p.is_file())
    found = read_entries(entries, str(path), skip_bad, report, classify=lambda name: "all")
    return found.get("all", [])
