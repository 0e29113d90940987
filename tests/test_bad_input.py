"""Every bad input ends in one clear line on stderr, a non-zero exit, no traceback, and nothing half-written."""

from __future__ import annotations

import errno
from pathlib import Path

import numpy as np
import pytest

from cyclegan_mri.cli import train
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.data.sources import Role, read_entries
from conftest import phantom, png_bytes

TINY = ["--image-size", "16", "16", "--filters", "2", "--batch", "2", "--verbose", "0"]


def dataset(root: Path, t1: dict[str, bytes] | None = None, t2: dict[str, bytes] | None = None) -> Path:
    """A folder in the archive's layout with the given files (default: 5 and 6 good slices)."""
    t1 = t1 if t1 is not None else {f"Image #{i}.png": png_bytes(phantom(i)) for i in range(1, 6)}
    t2 = t2 if t2 is not None else {f"Image #{i}.png": png_bytes(phantom(i)) for i in range(100, 106)}
    for folder, files in (("Tr1/TrainT1", t1), ("Tr2/TrainT2", t2)):
        (root / folder).mkdir(parents=True, exist_ok=True)
        for name, data in files.items():
            (root / folder / name).write_bytes(data)
    return root


def exit_code(argv: list[str]) -> int:
    """train.py's exit status for ``argv`` (flag errors exit from the parser itself)."""
    try:
        return run_main(train.main, argv)
    except SystemExit as stop:
        return stop.code


def good(i: int = 1) -> bytes:
    return png_bytes(phantom(i))


def written(path: Path, data: bytes | None) -> Path:
    """A file with ``data``, or an empty folder for None."""
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)
    return path


def truncated_archive(tmp: Path, archive: Path) -> Path:
    data = archive.read_bytes()
    (tmp / "short.RAR").write_bytes(data[: len(data) // 2])
    return tmp / "short.RAR"


# (id, how to build --data, extra flags, expected exit code, text that must appear on stderr)
CASES = [
    ("missing path", lambda t, a: t / "nowhere", [], 2, "nowhere does not exist"),
    ("empty folder", lambda t, a: written(t / "empty", None), [], 2, "no images in a known layout"),
    ("no T2 images", lambda t, a: dataset(t, t2={}), [], 2, "none of T2; put them in TrainT2/"),
    ("corrupt png", lambda t, a: dataset(t, t1={"Image #1.png": good(), "Image #2.png": good()[:60]}),
     [], 2, "Image #2.png"),
    ("not a rar archive", lambda t, a: written(t / "x.RAR", b"hello"), [], 2, "not a RAR archive"),
    ("archive with another checksum", truncated_archive, [], 2, "--accept-checksum"),
    ("truncated archive, checksum accepted", truncated_archive, ["--accept-checksum"], 2, "short.RAR"),
    ("image size too small", lambda t, a: a, ["--image-size", "5", "32"], 2, "at least 8 pixels"),
    ("batch larger than a domain", lambda t, a: dataset(t), ["--batch", "9"], 2, "--batch 9"),
    ("zero epochs", lambda t, a: a, ["--epochs", "0"], 2, "--epochs: must be at least 1"),
    ("negative epochs", lambda t, a: a, ["--epochs", "-3"], 2, "--epochs: must be at least 1"),
    ("unwritable output", lambda t, a: a, ["--out", "{file}/run"], 2, "cannot write there"),
]


@pytest.mark.parametrize("name,data,flags,code,text", CASES, ids=[c[0] for c in CASES])
def test_bad_input_gives_one_line_and_leaves_nothing(name, data, flags, code, text, tmp_path, archive, capsys):
    source = data(tmp_path, archive)
    (tmp_path / "file").write_text("a file where a folder is expected")
    out = tmp_path / "out"
    flags = [f.replace("{file}", str(tmp_path / "file")) for f in flags]
    argv = ["--data", str(source), "--out", str(out), "--epochs", "1", *TINY, *flags]
    assert exit_code(argv) == code
    err = capsys.readouterr().err
    assert text in err
    assert "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert not out.exists() or not [p for p in out.rglob("*") if p.is_file()]


def dry_run(source: Path, tmp_path: Path, *flags: str) -> int:
    return exit_code(["--data", str(source), "--out", str(tmp_path / "out"), "--dry-run", *TINY, *flags])


def test_skip_bad_images_skips_a_corrupt_png_and_names_it(tmp_path, capsys):
    files = {f"Image #{i}.png": good(i) for i in range(1, 5)} | {"Image #9.png": good()[:60]}
    with pytest.warns(UserWarning, match="Image #9.png"):
        assert dry_run(dataset(tmp_path, t1=files), tmp_path, "--skip-bad-images") == 0
    out = capsys.readouterr().out
    assert "T1: 4 images" in out and "1 unreadable image(s) skipped" in out


def test_files_that_are_not_images_are_skipped_and_counted(tmp_path, capsys):
    files = {f"Image #{i}.png": good(i) for i in range(1, 5)} | {"notes.txt": b"hi", "Thumbs.db": b"\0"}
    assert dry_run(dataset(tmp_path, t1=files), tmp_path) == 0
    out = capsys.readouterr().out
    assert "T1: 4 images" in out and "2 non-image file(s) skipped" in out


def test_colour_palette_and_16_bit_images_are_converted_and_reported(tmp_path, capsys):
    gray = phantom(1)
    files = {"a.png": png_bytes(gray, "RGB"), "b.png": png_bytes(gray, "RGBA"), "c.png": png_bytes(gray, "P"),
             "d.png": png_bytes(gray.astype(np.uint16) * 257), "e.png": png_bytes(gray)}
    assert dry_run(dataset(tmp_path, t1=files), tmp_path) == 0
    out = capsys.readouterr().out
    assert "T1: 5 images" in out and "4 image(s) converted" in out and "16-bit to 8-bit" in out


def test_images_of_different_sizes_are_resized_like_the_rest(tmp_path, capsys):
    files = {f"Image #{i}.png": png_bytes(phantom(i, shape)) for i, shape in enumerate([(30, 26), (64, 48), (17, 90)])}
    assert dry_run(dataset(tmp_path, t1=files), tmp_path, "--batch", "2") == 0
    assert "T1: 3 images -> (3, 16, 16, 1)" in capsys.readouterr().out


def test_archive_entry_names_are_never_used_as_paths(tmp_path, monkeypatch):
    """Entries named /abs/... or ../.. are decoded in memory; nothing is written anywhere."""
    monkeypatch.chdir(tmp_path)
    entries = [("/etc/TrainT1/evil.png", good), ("../../TrainT2/evil.png", good),
               ("Tr1/TrainT1/../../../x/TrainT1/fine.png", good)]
    found = read_entries(entries, "test.RAR")
    t1, t2 = (found[Role("train", side, tutorial=True)] for side in (0, 1))
    assert [s.name for s in t1] == ["evil.png", "fine.png"] and len(t2) == 1
    assert list(tmp_path.iterdir()) == []


def test_a_full_disk_while_checkpointing_stops_with_a_message_and_keeps_no_partial_checkpoint(
        tmp_path, monkeypatch, capsys):
    import tensorflow as tf

    def full_disk(self, *args, **kwargs):
        (Path(self.directory) / "ckpt-1_temp").mkdir(parents=True)  # what a cut-short save leaves
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tf.train.CheckpointManager, "save", full_disk)
    out = tmp_path / "out"
    argv = ["--data", str(dataset(tmp_path / "data")), "--out", str(out), "--epochs", "1", *TINY]
    assert exit_code(argv) == 2
    err = capsys.readouterr().err
    assert "cannot write a checkpoint" in err and "No space left on device" in err and "Traceback" not in err
    assert not list((out / "checkpoints").iterdir())
