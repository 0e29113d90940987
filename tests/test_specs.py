"""The model specifications: one entry per model, from which the command line, the flag refusals, the resume
check and the model classes' arguments all derive."""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
from collections.abc import Mapping

import keras
import numpy as np
import pytest
import tensorflow as tf

from conftest import exit_code
from cyclegan_mri import specs
from cyclegan_mri.cli import train
from cyclegan_mri.cli.train import parse_train_args, train_options, train_parser
from cyclegan_mri.errors import UserError
from cyclegan_mri.models.base import TranslationModel
from cyclegan_mri.record import TrainOptions, effective_defaults


class ToyModel(TranslationModel):
    """A model that lives in this test file alone: one 1x1 convolution from domain A to domain B, trained to
    reproduce its input scaled by ``--lambda-toy``. It shows that a model is its module plus its spec entry."""

    def __init__(self, image_shape, filters: int = 1, scale: float = 1.0, domains=None, **kwargs):
        super().__init__(**kwargs)
        self.image_shape, self.domains, self.scale = tuple(image_shape), domains, scale
        inputs = keras.Input(shape=self.image_shape)
        # float32 output whatever the policy, as the package's generators give (bfloat16 where the CPU has it).
        outputs = keras.layers.Activation("linear", dtype="float32")(keras.layers.Conv2D(self.image_shape[-1], 1)(inputs))
        self.generator = keras.Model(inputs, outputs, name="toy")
        self.trackers = {"toy_loss": keras.metrics.Mean(name="toy_loss")}

    def compile(self, learning_rate=2e-4, beta_1: float = 0.5, loss_scale: bool = False, **kwargs):
        super().compile(**kwargs)
        self.generator_optimizer = self.adam(learning_rate, beta_1, loss_scale)

    def call(self, x, training=False):
        return self.generator(x, training=training)

    def networks(self) -> Mapping[str, keras.Model]:
        return {"generator": self.generator}

    def optimizers(self):
        return {"generator_optimizer": self.generator_optimizer}

    def translators(self) -> Mapping[str, keras.Model]:
        return {self.domains.forward: self.generator}

    def train_step(self, data):
        x, _ = data
        loss = lambda: {"toy_loss": tf.reduce_mean(tf.abs(self.generator(x, training=True) - self.scale * x))}  # noqa: E731
        return self.descend(loss, [("toy_loss", self.generator, self.generator_optimizer)])

    def sample_panels(self, x: np.ndarray, y: np.ndarray):
        return [("input", x[0]), ("output", self.translate(self.domains.forward, x[:1])[0])]


TOY = specs.ModelSpec(
    name="toy", model_class=f"{__name__}:ToyModel", kind=specs.SLICES, help="a test's own model",
    data="cyclegan_mri.data.dataset:TrainingData", takes=("image_size", "channels", "holdout", "lambda_identity"),
    identity=("image_size", "channels"),
    arguments={"image_shape": "image_shape", "filters": "filters", "scale": "lambda_identity",
               "domains": "run_domains"},
    defaults=dict(filters=1, epochs=1, lambda_identity=1.0), about="a toy")


@pytest.fixture
def toy():
    specs.register(TOY)
    try:
        yield TOY
    finally:
        specs.unregister(TOY.name)


def test_a_model_defined_in_a_test_file_trains_through_train_py_once_registered(toy, small_dataset, tmp_path):
    assert "toy" in train_parser().format_help()
    out = tmp_path / "run"
    argv = ["--model", "toy", "--data", str(small_dataset), "--out", str(out), "--image-size", "16", "16",
            "--batch", "2", "--seed", "1", "--verbose", "0"]
    assert train.main(argv) == 0
    saved = json.loads((out / "run.json").read_text())
    assert saved["model"] == "toy" and saved["epochs"] == 1 and saved["lambda_identity"] == 1.0
    assert (out / "checkpoints" / "ckpt-1.index").exists()
    assert (out / "generators" / "t1_to_t2.keras").exists()
    assert "toy_loss" in (out / "history.csv").read_text().splitlines()[0]
    # Its spec refuses what it does not take, like any model's.
    with pytest.raises(UserError, match="--pool-size does not apply to --model toy"):
        train_options(parse_train_args(["--model", "toy", "--pool-size", "3"]))


def test_an_unknown_model_is_refused_with_the_choices():
    with pytest.raises(UserError, match="unknown model 'nope'; choose one of: .*cyclegan"):
        specs.spec_of("nope")


@pytest.mark.parametrize("spec", specs.SPECS.values(), ids=list(specs.SPECS))
def test_each_spec_is_complete_and_its_resume_identity_is_made_of_settings_it_takes(spec):
    fields = {f.name for f in dataclasses.fields(TrainOptions)}
    assert spec.kind in specs.KINDS and spec.help and spec.about
    assert set(spec.takes) <= fields and set(spec.resume_identity) <= fields
    assert set(spec.identity) <= set(spec.takes) | set(specs.RECORDED_SETTINGS)
    assert issubclass(spec.model_type(), TranslationModel)
    assert all(hasattr(spec.data_type(), name) for name in ("load", "selection", "steps_per_epoch", "dataset"))
    for name in spec.presets:
        assert spec.preset(name) and set(spec.preset(name)) <= set(spec.settings)


def test_every_registered_network_is_offered_by_some_model_and_named_in_the_help():
    from cyclegan_mri import networks

    offered = {name for spec in specs.SPECS.values() for name in spec.generators}
    registered = set(networks.GENERATORS) | set(networks.GENERATORS_3D)
    assert registered <= offered and offered - registered <= {"vox2vox"}
    offered = {name for spec in specs.SPECS.values() for name in spec.discriminators}
    assert set(networks.DISCRIMINATORS) | set(networks.DISCRIMINATORS_3D) <= offered
    text = " ".join(train_parser().format_help().split())
    for spec in specs.SPECS.values():
        for name in (spec.name, *spec.generators, *spec.discriminators):
            assert name in text


@pytest.mark.parametrize("spec", specs.SPECS.values(), ids=list(specs.SPECS))
def test_model_constructors_default_to_what_the_spec_says(spec):
    defaults = effective_defaults(spec.name)
    parameters = inspect.signature(spec.model_type().__init__).parameters
    for keyword, setting in spec.arguments.items():
        parameter = parameters.get(keyword)
        if (parameter is None or parameter.default is inspect.Parameter.empty or defaults.get(setting) is None
                or setting == "model"):
            continue  # required, passed on to a base class, decided by the data, or the variant's own name
        assert parameter.default == defaults[setting], f"{spec.name}: {keyword}"


def test_an_untaken_flag_is_refused_in_one_line_that_names_the_models_that_take_it():
    with pytest.raises(UserError) as error:
        train_options(parse_train_args(["--model", "cyclegan", "--direction", "t2_to_t1", "--lambda-nce", "2"]))
    message = str(error.value)
    assert "\n" not in message
    assert message.startswith("--direction, --lambda-nce do not apply to --model cyclegan")
    assert "--direction is for --model pix2pix" in message and "--lambda-nce is for --model cut, fastcut" in message


def test_a_generator_the_model_does_not_have_is_refused_before_anything_loads():
    with pytest.raises(UserError, match="--generator unet: --model cut takes tutorial or resnet6"):
        train_options(parse_train_args(["--model", "cut", "--generator", "unet"]))


# --- Resume identity: every setting a spec says a resume keeps is refused when changed, for every model. ---

# The saved run of each model: its defaults, with what its data would have decided.
DECIDED = {specs.SLICES: dict(domains=("T1", "T2"), channels=1), specs.VOLUMES: dict(domains=("T1", "T2"), channels=1),
           specs.SEGMENTATION: dict(domains=("MRI", "SEG"), channels=4, contrasts=("t1", "t1ce", "t2", "flair"),
                                    classes=(0, 1, 2, 4), class_weights=(0.25,) * 4, holdout_cases=0, held_out=())}
# A setting no flag of its own gives, and the flag that gives it.
FLAG_OF = {"contrasts": "channels"}
# Another valid value for settings whose flag says too little to pick one.
OTHER_VALUES = {"domains": ["A", "B"], "classes": ["0", "1", "2"], "contrasts": ["t1", "t2"], "channels": ["3"],
                "direction": ["t2_to_t1"], "crop": ["16", "16"], "patch": ["16", "16", "16"],
                "spacing": ["2", "2", "2"], "image_size": ["24", "20"], "holdout_cases": ["1"],
                "dropout": ["0.5"], "pool_size": ["3"], "filters": ["3"], "blocks": ["2"]}


def saved_run(spec: specs.ModelSpec) -> TrainOptions:
    values = {k: v for k, v in effective_defaults(spec.name).items() if k in {f.name for f in
                                                                              dataclasses.fields(TrainOptions)}}
    values.update(model=spec.name, seed=7, direction="t1_to_t2" if spec.directional else None,
                  **DECIDED[spec.kind if spec.kind in DECIDED else specs.SLICES])
    return TrainOptions(**values)


def other_value(spec: specs.ModelSpec, setting: str, saved: TrainOptions) -> list[str] | None:
    """Flag arguments that give ``setting`` a value other than ``saved``'s, or None if no other is valid."""
    action = next(a for a in train_parser()._actions if a.dest == FLAG_OF.get(setting, setting))
    if setting == "model":
        return [next(name for name in specs.SPECS if name != spec.name)]
    if setting in ("generator", "discriminator"):
        names = [n for n in getattr(spec, f"{setting}s") if n != getattr(saved, setting)]
        return names[:1] or None
    if isinstance(action, argparse.BooleanOptionalAction) or action.nargs == 0:
        return []  # the flag alone turns it on (every such identity setting defaults to off)
    if action.choices:
        return [next(c for c in action.choices if c != getattr(saved, setting))]
    return OTHER_VALUES[setting]


IDENTITY_CASES = [(spec, setting) for spec in specs.SPECS.values() for setting in spec.resume_identity]


@pytest.mark.parametrize("spec, setting", IDENTITY_CASES, ids=[f"{s.name}-{n}" for s, n in IDENTITY_CASES])
def test_a_resume_with_another_value_of_an_identity_setting_is_refused_in_one_line_and_writes_nothing(
        spec, setting, tmp_path, capsys):
    saved = saved_run(spec)
    out = tmp_path / "run"
    out.mkdir()
    (out / "run.json").write_text(json.dumps(dataclasses.replace(saved, out=str(out)).to_json()))
    before = (out / "run.json").read_text()
    value = other_value(spec, setting, saved)
    assert value is not None, f"--model {spec.name} takes one {setting} only: it cannot change, so is no identity"
    flag = "--" + FLAG_OF.get(setting, setting).replace("_", "-")
    argv = ["--model", spec.name, "--out", str(out), "--data", str(tmp_path / "no-data"), "--seed", "7",
            "--verbose", "0", flag, *value]
    if setting == "model":
        argv = ["--model", *value, *argv[2:-1 - len(value)]]
    if setting == "intensity_map" and "lambda_identity" in spec.takes:
        argv += ["--lambda-identity", "0"]  # which a CycleGAN's generator started from a map needs

    assert exit_code(train.main, argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "use the same settings to resume" in error
    assert f"{setting} " in error
    assert [p.name for p in out.iterdir()] == ["run.json"] and (out / "run.json").read_text() == before


def test_the_old_gaps_padding_and_dropout_are_in_the_resume_identity():
    assert "padding" in specs.SPECS["cyclegan3d"].resume_identity
    assert "dropout" in specs.SPECS["vox2vox"].resume_identity
