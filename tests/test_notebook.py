"""The Colab notebook: committed without outputs, explained cell by cell, and runs top to bottom."""

import base64
import json
import os
import time

import imageio.v3 as iio
import nbformat

from conftest import ROOT

NOTEBOOK = ROOT / "notebooks" / "cyclegan_mri_colab.ipynb"

# The parameter cell's overrides: a model small enough that the whole notebook runs in about a minute on a CPU.
TINY = {"CYCLEGAN_MRI_NB_EPOCHS": "2", "CYCLEGAN_MRI_NB_BATCH": "4", "CYCLEGAN_MRI_NB_IMAGE_SIZE": "32 32",
        "CYCLEGAN_MRI_NB_FILTERS": "4"}


def read_notebook():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_committed_notebook_has_no_outputs_and_explains_every_code_cell():
    notebook = read_notebook()
    nbformat.validate(notebook)
    code = [i for i, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    assert code, "the notebook has no code cells"
    for i in code:
        cell = notebook.cells[i]
        assert cell.outputs == [] and cell.execution_count is None, f"cell {i} still has outputs; strip them"
        assert i > 0 and notebook.cells[i - 1].cell_type == "markdown", f"code cell {i} has no explanation before it"
    # Colab opens the notebook on a GPU runtime.
    assert notebook.metadata.get("accelerator") == "GPU"


def outputs_of(notebook, kind: str) -> list[dict]:
    return [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
            if kind in output.get("data", {})]


def test_notebook_runs_top_to_bottom_with_tiny_settings(archive, tmp_path, monkeypatch):
    from nbclient import NotebookClient

    out = tmp_path / "run"
    for name, value in {**TINY, "CYCLEGAN_MRI_NB_OUT": str(out), "CYCLEGAN_MRI_NB_INSTALL": "0",
                        "CYCLEGAN_MRI_ARCHIVE": str(archive), "TF_CPP_MIN_LOG_LEVEL": "2"}.items():
        monkeypatch.setenv(name, value)
    # The kernel imports the package from this checkout, which the test suite does not install.
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    work = tmp_path / "work"  # the kernel's working directory, as /content is on Colab
    work.mkdir()

    notebook = read_notebook()
    started = time.monotonic()
    # Raises CellExecutionError, naming the cell, if any cell fails.
    NotebookClient(notebook, timeout=180, startup_timeout=120, kernel_name="python3",
                   resources={"metadata": {"path": str(work)}}).execute()
    print(f"notebook ran in {time.monotonic() - started:.0f} s")

    assert sorted(p.name for p in (out / "samples").iterdir()) == ["image_at_epoch_0001.png",
                                                                  "image_at_epoch_0002.png"]
    assert len(iio.imread(out / "training.gif", index=None)) == 2
    scores = json.loads((out / "evaluation.json").read_text())
    assert set(scores) == {"t1_to_t2", "t2_to_t1"} and len(scores["t1_to_t2"]["per_image"]) == 9
    assert (work / "example_t1_slice_as_t2.png").exists()

    # The grids were shown as training wrote them: one image, updated in place with the last epoch's grid.
    train_cell = next(cell for cell in notebook.cells if "live_sample_grids(OUT)" in cell.source)
    shown = [output for output in train_cell.outputs if "image/png" in output.get("data", {})]
    assert len(shown) == 1
    assert base64.b64decode(shown[0]["data"]["image/png"]) == (out / "samples" / "image_at_epoch_0002.png").read_bytes()
    assert len(outputs_of(notebook, "image/gif")) == 1
    assert not [o for cell in notebook.cells if cell.cell_type == "code" for o in cell.outputs
                if o.output_type == "error"]
