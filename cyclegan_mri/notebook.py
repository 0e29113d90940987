"""What the Colab notebook (``notebooks/cyclegan_mri_colab.ipynb``) calls besides the package's own functions.

The notebook's install cell imports this module right after installing the project
without its dependencies, to learn which of them are still missing; so only the
standard library is imported at the top, and everything else inside the functions.
IPython is imported the same way: the package itself never depends on it.
"""

from __future__ import annotations

import subprocess
import sys
import uuid
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from cyclegan_mri.data.images import decode_image, to_model_range
from cyclegan_mri.data.pairing import dataset_pairs
from cyclegan_mri.rundir import RunDir
from cyclegan_mri.visualize import sample_grid_png

if TYPE_CHECKING:
    import keras
    import numpy as np

    from cyclegan_mri.data.sources import Slice

DISTRIBUTION = "cyclegan-mri"

# Colab's TensorFlow comes with Keras, TensorBoard and NumPy builds that match it and its CUDA
# libraries; pip replacing any of them (even to satisfy a lower bound) can break the GPU setup.
PROVIDED_WITH_TENSORFLOW = frozenset({"tensorflow", "keras", "tensorboard", "numpy"})

T = TypeVar("T")


def missing_requirements(requirements: Iterable[str] | None = None) -> list[str]:
    """The requirements (``name>=version`` strings) not met by what is installed.

    Defaults to the installed project's own requirements. Extras (``pytest; extra == "test"``)
    and the TensorFlow stack (:data:`PROVIDED_WITH_TENSORFLOW`) are never listed.
    """
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    if requirements is None:
        requirements = metadata.requires(DISTRIBUTION) or []
    missing = []
    for text in requirements:
        requirement = Requirement(text)
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        if canonicalize_name(requirement.name) in PROVIDED_WITH_TENSORFLOW:
            continue
        try:
            installed = metadata.version(requirement.name)
        except metadata.PackageNotFoundError:
            missing.append(text)
            continue
        if not requirement.specifier.contains(installed, prereleases=True):
            missing.append(text)
    return missing


def install_missing_requirements() -> list[str]:
    """``pip install`` what :func:`missing_requirements` lists (usually only rarfile on Colab)."""
    missing = missing_requirements()
    if missing:
        # Captured, because a notebook shows only what Python itself prints, not a child's output.
        done = subprocess.run([sys.executable, "-m", "pip", "install", "-q", *missing],
                              capture_output=True, text=True)
        if done.returncode:
            raise RuntimeError(f"pip install {' '.join(missing)} failed:\n{done.stdout}{done.stderr}")
    print(f"installed {', '.join(missing)}" if missing else "every dependency was already installed")
    return missing


def spread(items: Sequence[T], count: int) -> list[T]:
    """``count`` items evenly spaced from the first to the last (all of them when there are fewer)."""
    if count >= len(items):
        return list(items)
    if count <= 1:
        return list(items[:count])
    return [items[round(i * (len(items) - 1) / (count - 1))] for i in range(count)]


def show_panels(panels: Sequence[tuple[str, np.ndarray]], title: str | None = None) -> None:
    """Show 8-bit slices side by side, each with its title, drawn as the sample grids are."""
    from IPython.display import Image, display

    # The sample grids draw the model's [-1, 1] range: scale each slice the way training does.
    scaled = [(name, to_model_range([image], image.shape)[0]) for name, image in panels]
    display(Image(data=sample_grid_png(scaled, title), format="png"))


def show_pairs(t1: Sequence[Slice], t2: Sequence[Slice], count: int = 3) -> None:
    """Show ``count`` of the dataset's aligned T1/T2 pairs: the same anatomy in both contrasts."""

    chosen = spread(dataset_pairs(list(t1), list(t2)), count)
    show_panels([panel for x, y in chosen
                 for panel in ((f"T1 {slice_label(x)}", x.image), (f"T2 {slice_label(y)}", y.image))])


def slice_label(slice_: Slice) -> str:
    """``#12`` for ``Image #12.png``; the file name when it holds no number."""
    return f"#{slice_.number}" if slice_.number is not None else slice_.name


def live_sample_grids(out: str | Path) -> keras.callbacks.Callback:
    """A callback for ``train(..., extra_callbacks=[...])`` that shows each epoch's sample grid as it is written.

    One image is updated in place rather than one added per epoch, so that a long run does not
    fill the notebook (and its saved file) with hundreds of grids; the GIF keeps the history.
    """
    import keras
    from IPython.display import Image, display

    run = RunDir.at(out)
    display_id = uuid.uuid4().hex
    shown = False

    def show(epoch: int, logs: dict | None = None) -> None:
        nonlocal shown
        path = run.sample(epoch + 1)
        if not path.exists():  # only the chief of a multi-worker run writes grids
            return
        display(Image(data=path.read_bytes(), format="png"), display_id=display_id, update=shown)
        shown = True

    # The trainer runs extra callbacks after the one that writes the grid, so it is on disk by now.
    return keras.callbacks.LambdaCallback(on_epoch_end=show)


def show_gif(out: str | Path) -> None:
    """Show the run's ``training.gif`` (written by ``make_gif``), animated."""
    from IPython.display import Image, display

    display(Image(data=RunDir.at(out).gif.read_bytes(), format="gif"))


def show_translations(out: str | Path, data: str | Path, count: int = 3) -> None:
    """Show ``count`` of the held-out test pairs next to their translations, as ``evaluate`` wrote them.

    Each row is: T1, T1 translated from its T2 partner, T2, T2 translated from its T1 partner.
    """
    from cyclegan_mri.translation.evaluation import dataset_source

    folder = RunDir.at(out).translations

    def translated(direction: str, source: Slice) -> np.ndarray:
        path = folder / direction / f"{Path(source.name).stem}.png"
        return decode_image(path.read_bytes(), str(path))[0]

    for x, y in spread(dataset_source(data).pairs, count):
        show_panels([(f"T1 {slice_label(x)}", x.image), (f"T1 from T2 {slice_label(y)}", translated("t2_to_t1", y)),
                     (f"T2 {slice_label(y)}", y.image), (f"T2 from T1 {slice_label(x)}", translated("t1_to_t2", x))])
