"""The record of a run: every setting that defines it (``TrainOptions``), saved as ``run.json`` in its directory.

A run's kind (what its commands do with it) comes from its model's spec: ``TrainOptions.kind``. No TensorFlow here.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

from cyclegan_mri.data.fetch import DEFAULT_ARCHIVE
from cyclegan_mri.domains import TUTORIAL, Domains
from cyclegan_mri.errors import UserError
from cyclegan_mri.specs import FUSION, SEGMENTATION, SLICES, VOLUMES, ModelSpec, spec_of, takers


@dataclass
class TrainOptions:
    """Everything that defines a training run; saved as ``run.json`` in the run directory.

    The field defaults are the tutorial's; a model's spec says where its own differ (``effective_defaults``).
    """

    data: str = str(DEFAULT_ARCHIVE)
    out: str = "output"
    model: str = "cyclegan"
    # None (only with --minutes): as many epochs as the time budget holds.
    epochs: int | None = 800
    # A budget of training time, in minutes counted across resumes (--minutes); None: train to --epochs.
    minutes: float | None = None
    batch: int = 4
    image_size: tuple[int, int] = (220, 184)
    crop: tuple[int, int] | None = None
    # Slices cut from NIfTI volumes (a 2D model on a --data folder of volumes): the anatomical plane, and whether an
    # unpaired model takes both contrasts of every subject (else its domains come from disjoint subjects).
    plane: str = "axial"
    same_subjects: bool = False
    # None until the data is read: then the names it implies (or --domains) and its channel count.
    domains: tuple[str, str] | None = None
    channels: int | None = None
    # Volumes (--model cyclegan3d): the training patch (D, H, W), voxel size, patch rule and generator padding.
    patch: tuple[int, int, int] | None = None
    spacing: tuple[float, float, float] | None = None
    min_foreground: float = 0.1
    pad_volumes: bool = True
    patches_per_epoch: int | None = None
    padding: str | None = None
    # Segmentation (--model vox2vox): the input contrasts, the label values (background first) and their Dice
    # weights, the held-out cases (how many, and which: decided from the data unless resumed), the Dice loss
    # weight, dropout and patch sampling. None until the data (or the resumed run) decides.
    contrasts: tuple[str, ...] | None = None
    classes: tuple[int, ...] | None = None
    class_weights: tuple[float, ...] | None = None
    holdout_cases: int | None = None
    held_out: tuple[str, ...] | None = None
    lambda_dice: float = 5.0
    dropout: float = 0.2
    tumour_fraction: float = 0.5
    rotate: float = 0.0
    # iVAN (--model ivan): synthesis or fusion, the invertible blocks, the two loss weights, and the classical
    # fusion that is the fusion task's training reference.
    task: str = "synthesis"
    blocks: int = 8
    lambda_forward: float = 1.0
    lambda_inverse: float = 1.0
    fusion_reference: str = "laplacian"
    filters: int = 64
    generator: str = "tutorial"
    discriminator: str = "tutorial"
    learning_rate: float = 2e-4
    beta_1: float = 0.5
    lambda_cycle: float = 10.0
    lambda_identity: float = 0.5
    direction: str | None = None
    norm: str = "batch"
    lambda_l1: float = 100.0
    pairs: str | None = None
    gan_loss: str = "bce"
    pool_size: int = 0
    lambda_structure: float = 0.0
    structure: str = "mind"
    intensity_map: str = "none"
    lambda_nce: float | None = None
    nce_temperature: float = 0.07
    nce_patches: int = 256
    lr_schedule: str = "constant"
    lr_step_epochs: int = 50
    lr_warmup: int = 0
    augment: bool = False
    holdout: bool = False
    seed: int | None = None
    skip_bad_images: bool = False
    accept_checksum: bool = False
    precision: str = "auto"
    xla: str = "auto"
    strategy: str = "default"
    verbose: int | str = "auto"
    preset: str | None = None
    dry_run: bool = field(default=False, metadata={"saved": False})

    def to_json(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.metadata.get("saved", True)}

    @classmethod
    def from_json(cls, values: dict) -> "TrainOptions":
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in values.items() if k in known}
        # Runs from before --domains and --channels were all T1/T2 and grayscale, and saved a direction for
        # every model although only the directional ones (pix2pix) have one.
        values.setdefault("domains", TUTORIAL.names)
        values.setdefault("channels", 1)
        if not spec_of(values.get("model", cls.model)).directional:
            values["direction"] = None
        for name in ("image_size", "crop", "domains", "patch", "spacing", "contrasts", "classes", "class_weights",
                     "held_out"):
            if values.get(name) is not None:
                values[name] = tuple(values[name])
        return cls(**values)

    @property
    def run_domains(self) -> Domains:
        """The domains of the run (T1 and T2 until the data has named them)."""
        return Domains.of(self.domains) if self.domains else TUTORIAL

    @property
    def image_shape(self) -> tuple[int, ...]:
        """(rows, columns, channels) of the images the networks take; (D, H, W, channels) for volumes."""
        return (*(self.patch or self.image_size), self.channels or 1)

    @property
    def spec(self) -> ModelSpec:
        """The specification of the run's model."""
        return spec_of(self.model)

    @property
    def kind(self) -> str:
        """What the run does (``specs.SLICES``, ``VOLUMES``, ``SEGMENTATION`` or ``FUSION``): the one place every
        command asks."""
        return self.spec.run_kind(self)

    @property
    def class_count(self) -> int | None:
        """How many label values a segmentation run tells apart (None until its data has decided them)."""
        return None if self.classes is None else len(self.classes)


def load_run_options(out: str | Path) -> TrainOptions | None:
    """The options a run directory was trained with, or None for a new directory."""
    path = Path(out) / "run.json"
    if not path.exists():
        return None
    return TrainOptions.from_json(json.loads(path.read_text()))


def effective_defaults(model: str) -> dict:
    """Every setting's default for ``--model``: the tutorial's, with the model's own over them."""
    spec = spec_of(model)
    defaults = {f.name: getattr(TrainOptions, f.name) for f in dataclasses.fields(TrainOptions)
                if f.default is not dataclasses.MISSING}
    return {**defaults, **{k: tuple(v) if isinstance(v, list) else v for k, v in spec.defaults.items()}}


def given_settings(options: TrainOptions) -> list[str]:
    """The settings of ``options`` that differ from its model's defaults (so were given, or come from a preset)."""
    defaults = effective_defaults(options.model)
    return [name for name, default in defaults.items() if _normal(getattr(options, name)) != _normal(default)]


def _normal(value):
    return tuple(value) if isinstance(value, list) else value


def check_options(options: TrainOptions) -> None:
    """Refuse, in one line, values out of range and settings the run's model does not take (and would ignore)."""
    _check_ranges(options)
    spec = options.spec
    untaken = [name for name in given_settings(options) if name not in spec.settings]
    if untaken:
        flags = ", ".join(flag_name(name) for name in untaken)
        others = "; ".join(f"{flag_name(name)} is for --model {', '.join(takers(name)) or 'none'}" for name in untaken)
        verb = "does" if len(untaken) == 1 else "do"
        raise UserError(f"{flags} {verb} not apply to --model {spec.name} ({spec.about}): {others}")
    for which, names in (("generator", spec.generators), ("discriminator", spec.discriminators)):
        if names and getattr(options, which) not in names:
            raise UserError(f"--{which} {getattr(options, which)}: --model {spec.name} takes "
                            f"{' or '.join(names)}")
    if options.intensity_map != "none" and "lambda_identity" in spec.takes and options.lambda_identity:
        raise UserError(f"--intensity-map {options.intensity_map} with --lambda-identity {options.lambda_identity}: "
                        "the identity loss asks each generator to leave the other contrast alone, which a "
                        "generator started from an intensity map does not; add --lambda-identity 0")
    if options.lr_schedule != "step" and options.lr_step_epochs != TrainOptions.lr_step_epochs:
        raise UserError("--lr-step-epochs only applies to --lr-schedule step")


def flag_name(setting: str) -> str:
    """The flag that gives ``setting`` (``lambda_nce`` -> ``--lambda-nce``)."""
    return f"--{setting.replace('_', '-')}"


def _check_ranges(options: TrainOptions) -> None:
    o = options
    if o.minutes is not None and not o.minutes > 0:
        raise UserError(f"--minutes {o.minutes:g}: a budget of training time must be more than 0 minutes")
    if o.epochs is None and o.minutes is None:
        raise UserError("a run needs --epochs or a time budget (--minutes)")
    if o.holdout_cases is not None and o.holdout_cases < 0:
        raise UserError(f"--holdout-cases must be 0 or more, got {o.holdout_cases}")
    if not 0 <= o.tumour_fraction <= 1:
        raise UserError(f"--tumour-fraction {o.tumour_fraction}: must be between 0 and 1")
    if o.rotate < 0:
        raise UserError(f"--rotate {o.rotate}: a largest angle in degrees, 0 or more")
    if not 0 <= o.dropout < 1:
        raise UserError(f"--dropout {o.dropout}: must be at least 0 and below 1")
    if o.spacing is not None and min(o.spacing) <= 0:
        raise UserError(f"--spacing {' '.join(map(str, o.spacing))}: voxel sizes must be positive")
    if not 0 <= o.min_foreground < 1:
        raise UserError(f"--min-foreground {o.min_foreground}: must be at least 0 and below 1")
    if o.crop is not None and any(c > s for c, s in zip(o.crop, o.image_size)):
        raise UserError(f"--crop {' '.join(map(str, o.crop))} is larger than the "
                        f"{' '.join(map(str, o.image_size))} slices (--image-size)")


# What each run kind is called, and the command that applies a run of it.
KIND_NAMES = {SLICES: "2D translation", VOLUMES: "3D translation", SEGMENTATION: "segmentation", FUSION: "fusion"}
KIND_COMMANDS = {SLICES: "translate.py", VOLUMES: "translate.py", SEGMENTATION: "segment.py", FUSION: "fuse.py"}


def require_kind(options: TrainOptions, root: str | Path, kinds: tuple[str, ...], command: str) -> None:
    """Refuse, in one line, to apply a run of another kind with ``command`` (and name the command that does)."""
    if options.kind in kinds:
        return
    task = f" --task {options.task}" if "task" in options.spec.takes else ""
    wanted = " or ".join(KIND_NAMES[kind] for kind in kinds)
    raise UserError(f"the run in {root} is a {KIND_NAMES[options.kind]} run (--model {options.model}{task}), it does "
                    f"not {_VERBS[kinds[0]]}: {command} needs a {wanted} run; use {KIND_COMMANDS[options.kind]}")


_VERBS = {SLICES: "translate", VOLUMES: "translate", SEGMENTATION: "segment", FUSION: "fuse"}
