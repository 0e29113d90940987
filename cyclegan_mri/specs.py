"""What each model is, in one place: a ``ModelSpec`` per ``--model`` name, free of TensorFlow.

A spec gives the model's name, its kind (what it trains on and produces), its
defaults and presets, the settings it takes, the settings a resume must keep,
its help, and where its class and its training data come from (imported only
when a run is built, so that a bad flag is refused before TensorFlow loads).
Everything else derives from ``SPECS``: ``--model`` choices and help, the
presets, the refusal of flags a model does not take, the resume check, the
model classes' constructor arguments, and which commands a run's kind goes to.

Adding a model is its module (a ``TranslationModel``) and one ``register`` call;
``docs/developing.md`` walks through it.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cyclegan_mri.errors import UserError

if TYPE_CHECKING:
    from cyclegan_mri.record import TrainOptions

# The kinds of model: what a model trains on and produces. The kind picks the command that applies a run and the
# scoring of evaluate.py (``run_kind``).
SLICES = "slices"  # 2D translation of slices (and of volumes, slice by slice)
VOLUMES = "volumes"  # 3D translation of whole volumes, window by window
SEGMENTATION = "segmentation"  # volumes to label maps
# A kind that a model's --task can give a run instead of its model's kind.
FUSION = "fusion"  # two aligned slices into one
KINDS = (SLICES, VOLUMES, SEGMENTATION, FUSION)

# Settings every model takes: the run, its data source, the optimiser, the schedule and the machine.
COMMON_SETTINGS = ("data", "out", "model", "epochs", "minutes", "batch", "filters", "domains", "learning_rate",
                   "beta_1", "lr_schedule", "lr_step_epochs", "lr_warmup", "augment", "seed", "precision", "xla",
                   "strategy", "verbose", "preset", "dry_run", "accept_checksum", "skip_bad_images")
# Settings that no flag of their own gives: the data decides them (or a resumed run keeps them); run.json records them.
RECORDED_SETTINGS = ("contrasts", "held_out")
# Settings every run keeps for life: what it is, the width of its networks, and the names of its domains (which
# name its generators and history columns).
COMMON_IDENTITY = ("model", "filters", "domains")

# Groups of settings that several models take.
SLICE_SETTINGS = ("image_size", "crop", "channels", "holdout", "plane", "holdout_cases", "min_foreground")
# Unpaired models on subjects' volumes: whether both contrasts of every subject are taken (else disjoint subjects).
UNPAIRED_SLICE_SETTINGS = ("same_subjects",)
ADVERSARIAL_SETTINGS = ("generator", "discriminator", "gan_loss")
CYCLE_SETTINGS = ("lambda_cycle", "lambda_identity", "pool_size")
STRUCTURE_SETTINGS = ("lambda_structure", "structure")
INTENSITY_MAP_SETTINGS = ("intensity_map",)
NCE_SETTINGS = ("lambda_nce", "nce_temperature", "nce_patches")
VOLUME_SETTINGS = ("patch", "spacing", "min_foreground", "pad_volumes", "patches_per_epoch", "padding")
# What a 2D network's shape depends on, beside COMMON_IDENTITY; a checkpoint made with other values does not fit.
SLICE_IDENTITY = ("image_size", "crop", "channels", "generator", "discriminator", "holdout", "plane", "holdout_cases")

# Architectures by name, as ``cyclegan_mri.networks`` registers them (a test keeps the two in step).
GENERATORS_2D = ("tutorial", "resnet6", "resnet9", "unet", "contrast")
DISCRIMINATORS_2D = ("tutorial", "patchgan")

# Constructor keyword -> run setting (an attribute of ``TrainOptions``), shared by the 2D adversarial models.
SLICE_ARGUMENTS = {"image_shape": "image_shape", "filters": "filters", "generator": "generator",
                   "discriminator": "discriminator", "gan_loss": "gan_loss", "crop": "crop", "domains": "run_domains"}

# --preset cpu for the 2D translation models: the most quality per CPU minute measured on a 2-core machine
# (docs/performance.md): a narrow ResNet generator, least-squares GAN loss and augmentation, at the slices' own
# 217x181 (no resize to lose detail to), held to the source's anatomy by the MIND structure loss. 200 epochs take
# about 56 minutes there (bfloat16). Each model takes the settings of it that apply to it.
SLICES_CPU = dict(generator="resnet6", filters=16, gan_loss="lsgan", augment=True, image_size=[217, 181],
                  lambda_structure=5.0, structure="mind", epochs=200)


@dataclass(frozen=True)
class ModelSpec:
    """One model, as the command line, the run record and the trainer know it."""

    #: The ``--model`` name.
    name: str
    #: ``"module:Class"`` of its ``TranslationModel``.
    model_class: str
    #: SLICES, VOLUMES or SEGMENTATION.
    kind: str
    #: One sentence for ``--model``'s help, without the defaults (those are added from ``defaults``).
    help: str
    #: ``"module:Class"`` of its training data, a ``cyclegan_mri.data.protocol.TrainingSet``.
    data: str
    #: The settings it takes beside COMMON_SETTINGS; any other given flag is refused.
    takes: tuple[str, ...] = ()
    #: The settings a resume must keep beside COMMON_IDENTITY: every one that changes what a network computes
    #: (or which data it trains on) and that the model lets vary; a resume with another value is refused.
    identity: tuple[str, ...] = ()
    #: Constructor keyword -> ``TrainOptions`` attribute: how ``TranslationModel.from_options`` builds it.
    arguments: Mapping[str, str] = field(default_factory=dict)
    #: Where its defaults differ from the tutorial's (``TrainOptions``' field defaults).
    defaults: Mapping[str, Any] = field(default_factory=dict)
    #: ``--preset`` name -> settings; settings it does not take are left out.
    presets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    #: The ``--generator`` and ``--discriminator`` names it accepts (empty: it has none to choose).
    generators: tuple[str, ...] = ()
    discriminators: tuple[str, ...] = ()
    #: Whether it trains on aligned pairs, and whether it then learns one ``--direction`` only.
    paired: bool = False
    directional: bool = False
    #: ``--task`` value -> run kind, where a task makes the run something other than its model's kind.
    tasks: Mapping[str, str] = field(default_factory=dict)
    #: What the model is, said when it refuses a flag (``--model ivan (one invertible network ...)``).
    about: str = ""

    def __post_init__(self):
        if self.kind not in (SLICES, VOLUMES, SEGMENTATION):
            raise ValueError(f"{self.name}: unknown kind {self.kind!r}")
        unknown = [s for s in (*self.identity, *self.defaults) if s not in self.settings and s not in (
            "generator", "discriminator")]
        if unknown:
            raise ValueError(f"{self.name}: {', '.join(unknown)} are not settings it takes")

    @property
    def settings(self) -> tuple[str, ...]:
        """Every setting a run of this model has a say in: the common ones and its own."""
        return (*COMMON_SETTINGS, *RECORDED_SETTINGS, *self.takes)

    @property
    def resume_identity(self) -> tuple[str, ...]:
        """The settings a resumed run must keep."""
        return (*COMMON_IDENTITY, *self.identity)

    def preset(self, name: str | None) -> dict[str, Any]:
        """The settings ``--preset name`` gives this model (none for None), without those it does not take."""
        if name is None:
            return {}
        if name not in self.presets:
            raise UserError(f"--preset {name} has no settings for --model {self.name}")
        return {k: v for k, v in self.presets[name].items() if k in self.settings}

    def model_type(self) -> type:
        """The model's class (imports TensorFlow)."""
        return _load(self.model_class)

    def data_type(self) -> type:
        """The class of its training data (see ``cyclegan_mri.data.protocol``)."""
        return _load(self.data)

    def run_kind(self, options: TrainOptions) -> str:
        """What a run of this model does: its kind, or the kind its ``--task`` gives it."""
        return self.tasks.get(getattr(options, "task", None), self.kind)

    def constructor_arguments(self, options: TrainOptions) -> dict[str, Any]:
        """The keyword arguments ``model_type()`` is built with for ``options``."""
        return {keyword: getattr(options, setting) for keyword, setting in self.arguments.items()}


def _load(target: str):
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


SPECS: dict[str, ModelSpec] = {}


def register(spec: ModelSpec) -> ModelSpec:
    """Add ``spec`` to the registry (a model of that name is replaced)."""
    SPECS[spec.name] = spec
    return spec


def unregister(name: str) -> None:
    """Remove a model from the registry (tests that register a toy model take it out again)."""
    SPECS.pop(name, None)


def spec_of(name: str) -> ModelSpec:
    """The spec registered as ``name``, or a one-line error naming the choices."""
    if name not in SPECS:
        raise UserError(f"unknown model {name!r}; choose one of: {', '.join(sorted(SPECS))}")
    return SPECS[name]


def takers(setting: str) -> list[str]:
    """The models that take ``setting``."""
    return [name for name, spec in SPECS.items() if setting in spec.takes]


register(ModelSpec(
    name="cyclegan", model_class="cyclegan_mri.models.cyclegan:CycleGAN", kind=SLICES,
    help="unpaired, both directions (the tutorial)",
    data="cyclegan_mri.data.dataset:TrainingData",
    takes=(*SLICE_SETTINGS, *UNPAIRED_SLICE_SETTINGS, *ADVERSARIAL_SETTINGS, *CYCLE_SETTINGS, *STRUCTURE_SETTINGS,
           *INTENSITY_MAP_SETTINGS),
    identity=(*SLICE_IDENTITY, *UNPAIRED_SLICE_SETTINGS, "pool_size", *INTENSITY_MAP_SETTINGS),
    arguments={**SLICE_ARGUMENTS, "lambda_cycle": "lambda_cycle", "lambda_identity": "lambda_identity",
               "pool_size": "pool_size", "lambda_structure": "lambda_structure", "structure": "structure",
               "intensity_map": "intensity_map"},
    presets={"cpu": SLICES_CPU}, generators=GENERATORS_2D, discriminators=DISCRIMINATORS_2D,
    about="unpaired, both directions, with instance normalisation in every network"))

register(ModelSpec(
    name="pix2pix", model_class="cyclegan_mri.models.pix2pix:Pix2Pix", kind=SLICES,
    help="aligned pairs, one --direction",
    data="cyclegan_mri.data.dataset:TrainingData",
    takes=(*SLICE_SETTINGS, *ADVERSARIAL_SETTINGS, "direction", "pairs", "norm", "lambda_l1"),
    identity=(*SLICE_IDENTITY, "direction", "norm"),
    arguments={**SLICE_ARGUMENTS, "direction": "direction", "norm": "norm", "lambda_l1": "lambda_l1"},
    defaults=dict(generator="unet", discriminator="patchgan", epochs=200),
    presets={"cpu": SLICES_CPU}, generators=GENERATORS_2D, discriminators=DISCRIMINATORS_2D,
    paired=True, directional=True,
    about="aligned pairs, one direction, held to the anatomy by its L1 distance to the target"))

# CUT's reference settings: a 9-block ResNet, the 70x70 PatchGAN, least squares, 200 + 200 epochs with the rate
# decayed over the second half (FastCUT: 150 + 50, here decayed over the second half too).
for _name, _epochs in (("cut", 400), ("fastcut", 200)):
    register(ModelSpec(
        name=_name, model_class="cyclegan_mri.models.cut:CUT", kind=SLICES,
        help=("unpaired, one contrastive one-sided model per direction" if _name == "cut"
              else "CUT without its identity PatchNCE term, with flip equivariance and a PatchNCE weight of 10"),
        data="cyclegan_mri.data.dataset:TrainingData",
        takes=(*SLICE_SETTINGS, *UNPAIRED_SLICE_SETTINGS, *ADVERSARIAL_SETTINGS, *NCE_SETTINGS, *STRUCTURE_SETTINGS,
               *INTENSITY_MAP_SETTINGS),
        identity=(*SLICE_IDENTITY, *UNPAIRED_SLICE_SETTINGS, *INTENSITY_MAP_SETTINGS),
        arguments={**SLICE_ARGUMENTS, "variant": "model", "lambda_nce": "lambda_nce",
                   "nce_temperature": "nce_temperature", "nce_patches": "nce_patches",
                   "lambda_structure": "lambda_structure", "structure": "structure",
                   "intensity_map": "intensity_map"},
        defaults=dict(generator="resnet9", discriminator="patchgan", gan_loss="lsgan", lr_schedule="linear",
                      epochs=_epochs),
        presets={"cpu": SLICES_CPU}, generators=("tutorial", "resnet6", "resnet9", "contrast"), discriminators=DISCRIMINATORS_2D,
        about="no cycle: its generators are held to their source by PatchNCE"))

# The 3D CycleGAN of davidiommi/3D-CycleGan-Pytorch-MedImaging: 9-block ResNet, 3D PatchGAN, least squares, a pool
# of 50 fakes, 128x128x64 patches one at a time, the rate decayed over the second half of 200 epochs.
register(ModelSpec(
    name="cyclegan3d", model_class="cyclegan_mri.models.cyclegan3d:CycleGAN3D", kind=VOLUMES,
    help="unpaired NIfTI volumes (--data DIR with t1/ and t2/ folders of .nii/.nii.gz, or subjects in BraTS, IXI or "
         "BIDS-like folders, split as for 2D models), trained on random patches",
    data="cyclegan_mri.data.volume_data:VolumeData",
    takes=(*ADVERSARIAL_SETTINGS, *CYCLE_SETTINGS, *VOLUME_SETTINGS, "holdout_cases", *UNPAIRED_SLICE_SETTINGS,
           *INTENSITY_MAP_SETTINGS),
    identity=("generator", "pool_size", "patch", "padding", "spacing", "holdout_cases", *UNPAIRED_SLICE_SETTINGS,
              *INTENSITY_MAP_SETTINGS),
    arguments={"patch": "patch", "filters": "filters", "generator": "generator", "discriminator": "discriminator",
               "padding": "padding", "lambda_cycle": "lambda_cycle", "lambda_identity": "lambda_identity",
               "gan_loss": "gan_loss", "pool_size": "pool_size", "domains": "run_domains",
               "intensity_map": "intensity_map"},
    defaults=dict(generator="resnet9_3d", discriminator="patchgan3d", gan_loss="lsgan", pool_size=50,
                  lr_schedule="linear", epochs=200, batch=1, patch=[128, 128, 64]),
    # What trains a 3D CycleGAN on a 2-core CPU in minutes, not days.
    presets={"cpu": dict(generator="resnet6_3d", filters=8, patch=[32, 32, 32], epochs=50)},
    generators=("resnet6_3d", "resnet9_3d"), discriminators=("patchgan3d",),
    about="it trains on --patch windows of grayscale volumes"))

# The official Vox2Vox code: its U-Net and pair PatchGAN, least squares, batch 4, 200 epochs, 128^3 patches.
register(ModelSpec(
    name="vox2vox", model_class="cyclegan_mri.models.vox2vox:Vox2Vox", kind=SEGMENTATION,
    help="3D tumour segmentation of BraTS cases (--data DIR of case folders)",
    data="cyclegan_mri.data.brats:SegmentationData",
    takes=("generator", "discriminator", "gan_loss", "channels", "patch", "patches_per_epoch", "classes",
           "class_weights", "holdout_cases", "lambda_dice", "dropout", "tumour_fraction", "rotate"),
    identity=("contrasts", "classes", "holdout_cases", "dropout", "patch"),
    arguments={"patch": "patch", "channels": "channels", "classes": "class_count", "filters": "filters",
               "dropout": "dropout", "lambda_dice": "lambda_dice", "class_weights": "class_weights",
               "generator": "generator", "discriminator": "discriminator", "gan_loss": "gan_loss",
               "contrasts": "contrasts"},
    defaults=dict(generator="vox2vox", discriminator="vox2vox", gan_loss="lsgan", epochs=200, batch=4,
                  patch=[128, 128, 128]),
    # The settings of docs/models/vox2vox.md's demo (synthetic 48x56x40 cases on a 2-core CPU).
    presets={"cpu": dict(filters=8, patch=[32, 32, 32], epochs=300, batch=2)},
    generators=("vox2vox",), discriminators=("vox2vox",),
    about="it segments --patch windows of multi-contrast volumes; --holdout-cases keeps cases for evaluation"))

# iVAN (Wang et al. 2023): one invertible network and no discriminator; dense blocks of growth 32 (--filters),
# Adam 1e-4 (PyTorch's betas) halved every 50 epochs, 300 epochs of single pairs at the slices' own size.
register(ModelSpec(
    name="ivan", model_class="cyclegan_mri.models.ivan:IVAN", kind=SLICES,
    help="one invertible network trained on aligned pairs, whose forward pass translates A to B and whose exact "
         "inverse B to A (or, with --task fusion, fuses A and B into one image)",
    data="cyclegan_mri.data.dataset:TrainingData",
    takes=(*SLICE_SETTINGS, "pairs", "task", "blocks", "lambda_forward", "lambda_inverse", "fusion_reference"),
    identity=("image_size", "crop", "channels", "holdout", "plane", "holdout_cases", "task", "blocks",
              "fusion_reference"),
    arguments={"image_shape": "image_shape", "task": "task", "blocks": "blocks", "growth": "filters",
               "lambda_forward": "lambda_forward", "lambda_inverse": "lambda_inverse", "domains": "run_domains"},
    defaults=dict(generator="ivan", discriminator="none", filters=32, learning_rate=1e-4, beta_1=0.9,
                  lr_schedule="step", epochs=300, batch=1, image_size=[217, 181]),
    # Half the paper's growth and blocks, on 96x96 crops (the network takes any size) at 5 times its rate, halved
    # every 30 epochs: a step at the paper's settings and size takes 10 s on a 2-core CPU, this one 0.5 s.
    presets={"cpu": dict(filters=16, blocks=4, crop=[96, 96], learning_rate=5e-4, epochs=100, lr_step_epochs=30)},
    paired=True, tasks={"fusion": FUSION},
    about="one invertible network trained on aligned pairs by mean squared errors, without a discriminator; it "
          "learns both directions"))
