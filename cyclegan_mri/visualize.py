"""Sample grids and the training GIF, drawn off-screen."""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path

import imageio.v3 as iio
import numpy as np
from matplotlib.figure import Figure

from cyclegan_mri.rundir import write_atomic


def sample_grid_png(panels: Sequence[tuple[str, np.ndarray]], title: str | None = None) -> bytes:
    """PNG bytes of the model-range panels side by side (gray, or in colour for 3 channels), each titled.

    Uses a bare ``Figure`` (Agg canvas) rather than pyplot, so no window ever
    opens and nothing blocks, whatever backend the user's matplotlib picks.
    """
    figure = Figure(figsize=(2.2 * len(panels), 3.0), dpi=100)
    for i, (name, image) in enumerate(panels):
        axes = figure.add_subplot(1, len(panels), i + 1)
        image = np.asarray(image, dtype=np.float32)
        if image.ndim == 3 and image.shape[-1] == 3:  # colour: imshow takes RGB in [0, 1]
            axes.imshow(np.clip((image + 1.0) / 2.0, 0.0, 1.0))
        else:
            axes.imshow(np.squeeze(image), cmap="gray", vmin=-1.0, vmax=1.0)
        axes.set_title(name, fontsize=10)
        axes.axis("off")
    if title:
        figure.suptitle(title, fontsize=11)
    figure.tight_layout()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def save_sample_grid(path: Path, panels: Sequence[tuple[str, np.ndarray]], title: str | None = None) -> None:
    write_atomic(path, sample_grid_png(panels, title))


def gif_frames(frames: Sequence[Path], every: int) -> list[Path]:
    """Every ``every``-th frame, plus the last one so the GIF ends on the final epoch."""
    chosen = list(frames[::every])
    if frames and chosen[-1] != frames[-1]:
        chosen.append(frames[-1])
    return chosen


def write_gif(frames: Sequence[Path], path: Path, duration_ms: float = 200, loop: int = 0) -> None:
    """Assemble PNG frames into an animated GIF (frames of other sizes are padded to the first's)."""
    images = [iio.imread(frame)[..., :3] for frame in frames]
    height = max(image.shape[0] for image in images)
    width = max(image.shape[1] for image in images)
    padded = []
    for image in images:
        canvas = np.full((height, width, 3), 255, dtype=np.uint8)
        canvas[:image.shape[0], :image.shape[1]] = image
        padded.append(canvas)
    buffer = iio.imwrite("<bytes>", np.stack(padded), extension=".gif", duration=duration_ms, loop=loop)
    write_atomic(path, buffer)
