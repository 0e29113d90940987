"""What cyclegan_mri.notebook adds for the Colab notebook: the install's dependency check and the displays."""

import subprocess
import sys

import numpy as np
import pytest

from cyclegan_mri import notebook
from cyclegan_mri.data.sources import Slice
from cyclegan_mri.rundir import RunDir
from conftest import phantom, png_bytes

ipython_display = pytest.importorskip("IPython.display")

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def shown(monkeypatch) -> list[tuple]:
    """What the helpers pass to IPython's display, as (object, keyword arguments)."""
    calls = []
    monkeypatch.setattr(ipython_display, "display", lambda obj, **kwargs: calls.append((obj, kwargs)))
    return calls


def test_missing_requirements_lists_only_what_is_absent_or_too_old_and_never_the_tensorflow_stack():
    requirements = ["tensorflow>=99", "keras>=99", "tensorboard>=99", "numpy>=99",  # Colab's own: left alone
                    "rarfile>=4.1", "imageio",  # installed here
                    "rarfile>=999", "no-such-distribution-anywhere>=1",
                    'pytest>=999; extra == "test"']  # extras are not the notebook's business
    assert notebook.missing_requirements(requirements) == ["rarfile>=999", "no-such-distribution-anywhere>=1"]


def test_missing_requirements_reads_the_installed_projects_own_requirements(tmp_path, monkeypatch):
    # What `pip install --no-deps` leaves behind: the project's metadata, with its requirements.
    info = tmp_path / "cyclegan_mri-0.1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: cyclegan-mri\nVersion: 0.1.0\n"
                                   "Requires-Dist: tensorflow>=2.16\nRequires-Dist: rarfile>=4.1\n"
                                   "Requires-Dist: no-such-distribution-anywhere>=1\n"
                                   'Requires-Dist: pytest>=8; extra == "test"\n')
    monkeypatch.syspath_prepend(str(tmp_path))
    assert notebook.missing_requirements() == ["no-such-distribution-anywhere>=1"]


def test_install_missing_requirements_installs_only_the_missing_with_this_python(monkeypatch):
    commands = []
    monkeypatch.setattr(notebook, "missing_requirements", lambda: ["rarfile>=4.1"])
    monkeypatch.setattr(notebook.subprocess, "run",
                        lambda command, **kwargs: commands.append(command) or subprocess.CompletedProcess(command, 0))
    assert notebook.install_missing_requirements() == ["rarfile>=4.1"]
    assert commands == [[sys.executable, "-m", "pip", "install", "-q", "rarfile>=4.1"]]


def test_install_missing_requirements_does_not_run_pip_when_nothing_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(notebook, "missing_requirements", lambda: [])
    monkeypatch.setattr(notebook.subprocess, "run", lambda *args, **kwargs: pytest.fail("pip was run"))
    assert notebook.install_missing_requirements() == []
    assert "already installed" in capsys.readouterr().out


def test_a_failed_pip_install_is_raised_with_pips_own_message(monkeypatch):
    monkeypatch.setattr(notebook, "missing_requirements", lambda: ["rarfile>=999"])
    monkeypatch.setattr(notebook.subprocess, "run", lambda command, **kwargs: subprocess.CompletedProcess(
        command, 1, stdout="", stderr="ERROR: No matching distribution found for rarfile>=999\n"))
    with pytest.raises(RuntimeError, match="No matching distribution found for rarfile>=999"):
        notebook.install_missing_requirements()


@pytest.mark.parametrize("count,expected", [(3, [0, 4, 8]), (2, [0, 8]), (1, [0]), (0, []), (9, list(range(9))),
                                            (20, list(range(9)))])
def test_spread_picks_evenly_from_the_first_to_the_last(count, expected):
    assert notebook.spread(list(range(9)), count) == expected


def test_show_pairs_draws_aligned_pairs_side_by_side_in_one_image(shown):
    t1 = [Slice(f"Image #{k}.png", phantom(k)) for k in (10, 11, 12)]
    t2 = [Slice(f"Image #{k + 60}.png", phantom(k + 60)) for k in (10, 12)] + [Slice("Image #5.png", phantom(5))]
    notebook.show_pairs(t1, t2, count=3)
    [(image, _)] = shown
    assert image.format == "png" and image.data.startswith(PNG_SIGNATURE)


def test_live_sample_grids_shows_each_new_grid_in_the_same_place(tmp_path, shown):
    run = RunDir.at(tmp_path)
    callback = notebook.live_sample_grids(tmp_path)
    callback.on_epoch_end(0)
    assert shown == []  # no grid written for epoch 1 yet: nothing to show
    for epoch in (1, 2):
        grid = png_bytes(np.full((8, 8), 40 * epoch, np.uint8))
        run.sample(epoch).parent.mkdir(exist_ok=True)
        run.sample(epoch).write_bytes(grid)
        callback.on_epoch_end(epoch - 1)
        image, kwargs = shown[-1]
        assert image.data == grid
    (_, first), (_, second) = shown
    assert first["display_id"] == second["display_id"]
    assert (first["update"], second["update"]) == (False, True)
