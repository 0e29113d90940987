"""Runs written by earlier versions of the package still resume and translate."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
from conftest import phantom, png_bytes, write_small_dataset
from PIL import Image

FIXTURE = Path(__file__).parent / "fixtures" / "run_v1"


def test_a_run_made_before_the_model_specifications_resumes_and_translates(tmp_path):
    from cyclegan_mri.cli import train, translate

    out = tmp_path / "run"
    shutil.copytree(FIXTURE, out)
    data = write_small_dataset(tmp_path / "data")
    saved = json.loads((out / "run.json").read_text())
    args = ["--data", str(data), "--out", str(out), "--image-size", "16", "16", "--filters", "1", "--batch", "2",
            "--seed", "5", "--verbose", "0"]

    assert train.main([*args, "--epochs", "2"]) == 0

    history = (out / "history.csv").read_text().splitlines()
    assert [line.split(",")[0] for line in history[1:]] == ["1", "2"]  # epoch 1 kept, epoch 2 added
    assert (out / "checkpoints" / "ckpt-2.index").exists()
    resumed = json.loads((out / "run.json").read_text())
    for name in ("model", "generator", "discriminator", "filters", "image_size", "domains", "channels", "seed"):
        assert resumed[name] == saved[name]

    source = tmp_path / "slice.png"
    source.write_bytes(png_bytes(phantom(7, (30, 26))))
    target = tmp_path / "translated.png"
    assert translate.main(["--out", str(out), "--input", str(source), "--output", str(target)]) == 0
    image = np.asarray(Image.open(target))
    assert image.shape == (30, 26) and image.dtype == np.uint8
