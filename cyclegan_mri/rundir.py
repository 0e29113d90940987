"""The layout of a run directory, in one place for every entry point."""

from __future__ import annotations

import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cyclegan_mri.errors import UserError

SAMPLE_PATTERN = re.compile(r"image_at_epoch_(\d+)\.png$")


@dataclass(frozen=True)
class RunDir:
    """``out/`` holds checkpoints/, samples/, history.csv, logs/, generators/ and run.json."""

    root: Path

    @classmethod
    def at(cls, out: str | os.PathLike) -> "RunDir":
        return cls(Path(out))

    @property
    def checkpoints(self) -> Path:
        return self.root / "checkpoints"

    @property
    def samples(self) -> Path:
        return self.root / "samples"

    @property
    def history(self) -> Path:
        return self.root / "history.csv"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def generators(self) -> Path:
        return self.root / "generators"

    @property
    def options(self) -> Path:
        return self.root / "run.json"

    @property
    def gif(self) -> Path:
        return self.root / "training.gif"

    @property
    def evaluation(self) -> Path:
        return self.root / "evaluation.json"

    @property
    def translations(self) -> Path:
        return self.root / "translations"

    def generator(self, direction: str) -> Path:
        return self.generators / f"{direction}.keras"

    def sample(self, epoch: int) -> Path:
        return self.samples / f"image_at_epoch_{epoch:04d}.png"

    def sample_frames(self) -> list[tuple[int, Path]]:
        """(epoch, path) of every sample grid, in epoch order."""
        if not self.samples.is_dir():
            return []
        found = [(int(m.group(1)), p) for p in self.samples.iterdir() if (m := SAMPLE_PATTERN.match(p.name))]
        return sorted(found)

    def ensure_writable(self) -> None:
        """Make the run directory (only it: its parts appear as they are written) and prove it writable."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryFile(dir=self.root):
                pass
        except OSError as error:
            raise UserError(f"--out {self.root}: cannot write there ({error.strerror}); "
                            "choose a writable directory") from None


def write_atomic(path: Path, data: bytes | str) -> None:
    """Write a file under a temporary name and rename it into place, so readers never see half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data.encode() if isinstance(data, str) else data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
