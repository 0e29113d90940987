"""Command-line options shared by the entry points, and the run settings they become."""

from __future__ import annotations

import argparse
import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from cyclegan_mri.data.fetch import DEFAULT_ARCHIVE
from cyclegan_mri.domains import TUTORIAL, Domains, domain_name
from cyclegan_mri.errors import UserError


@dataclass
class TrainOptions:
    """Everything that defines a training run; saved as ``run.json`` in the run directory."""

    data: str = str(DEFAULT_ARCHIVE)
    out: str = "output"
    model: str = "cyclegan"
    epochs: int = 800
    batch: int = 4
    image_size: tuple[int, int] = (220, 184)
    crop: tuple[int, int] | None = None
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
    lambda_nce: float | None = None
    nce_temperature: float = 0.07
    nce_patches: int = 256
    lr_schedule: str = "constant"
    lr_step_epochs: int = 50
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
        # every model although only pix2pix has one.
        values.setdefault("domains", TUTORIAL.names)
        values.setdefault("channels", 1)
        if values.get("model", cls.model) != "pix2pix":
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


class Parser(argparse.ArgumentParser):
    """An argument parser whose errors are one line: what is wrong, and where to look."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


# Defaults that differ by --model (pix2pix: the networks of Isola et al. and their 200 epochs).
MODEL_DEFAULTS: dict[str, dict] = {
    "cyclegan": {},
    "pix2pix": dict(generator="unet", discriminator="patchgan", epochs=200),
    # CUT's reference settings: a 9-block ResNet, the 70x70 PatchGAN, least squares, 200 + 200 epochs with
    # the rate decayed over the second half (FastCUT: 150 + 50, here decayed over the second half too).
    "cut": dict(generator="resnet9", discriminator="patchgan", gan_loss="lsgan", lr_schedule="linear", epochs=400),
    "fastcut": dict(generator="resnet9", discriminator="patchgan", gan_loss="lsgan", lr_schedule="linear",
                    epochs=200),
    # The 3D CycleGAN of davidiommi/3D-CycleGan-Pytorch-MedImaging: 9-block ResNet, 3D PatchGAN, least squares,
    # a pool of 50 fakes, 128x128x64 patches one at a time, the rate decayed over the second half of 200 epochs.
    "cyclegan3d": dict(generator="resnet9_3d", discriminator="patchgan3d", gan_loss="lsgan", pool_size=50,
                       lr_schedule="linear", epochs=200, batch=1, patch=[128, 128, 64]),
    # The official Vox2Vox code: its U-Net and pair PatchGAN, least squares, batch 4, 200 epochs, 128^3 patches.
    "vox2vox": dict(generator="vox2vox", discriminator="vox2vox", gan_loss="lsgan", epochs=200, batch=4,
                    patch=[128, 128, 128]),
    # iVAN (Wang et al. 2023): one invertible network and no discriminator; dense blocks of growth 32 (--filters),
    # Adam 1e-4 (PyTorch's betas) halved every 50 epochs, 300 epochs of single pairs at the slices' own size.
    "ivan": dict(generator="ivan", discriminator="none", filters=32, learning_rate=1e-4, beta_1=0.9,
                 lr_schedule="step", epochs=300, batch=1, image_size=[217, 181]),
}
CUT_MODELS = ("cut", "fastcut")
VOLUME_MODELS = ("cyclegan3d",)
SEGMENTATION_MODELS = ("vox2vox",)
INVERTIBLE_MODELS = ("ivan",)
# Settings that only some models take (check_model_flags refuses them elsewhere).
NCE_SETTINGS = ("lambda_nce", "nce_temperature", "nce_patches")
CYCLE_SETTINGS = ("lambda_cycle", "lambda_identity", "pool_size")
UNPAIRED_SETTINGS = ("lambda_structure",)
PAIRED_SETTINGS = ("direction", "pairs", "norm", "lambda_l1")
VOLUME_SETTINGS = ("patch", "spacing", "min_foreground", "pad_volumes", "patches_per_epoch", "padding")
SLICE_SETTINGS = ("image_size", "crop", "channels", "lambda_structure")
SEGMENTATION_SETTINGS = ("classes", "class_weights", "holdout_cases", "lambda_dice", "dropout", "tumour_fraction",
                         "rotate")
# What a segmentation run takes of the other models' settings.
SEGMENTATION_TAKES = ("patch", "patches_per_epoch", "channels")
INVERTIBLE_SETTINGS = ("task", "blocks", "lambda_forward", "lambda_inverse", "fusion_reference")
# The settings of the adversarial models, which iVAN (no discriminator) refuses, beside those above.
ADVERSARIAL_SETTINGS = ("generator", "discriminator", "gan_loss")


def ignored_settings(model: str) -> tuple[str, ...]:
    """The settings ``--model`` does not take: refused when given, left out of a preset."""
    if model in INVERTIBLE_MODELS:
        return (*NCE_SETTINGS, *CYCLE_SETTINGS, *UNPAIRED_SETTINGS, "direction", "norm", "lambda_l1",
                *VOLUME_SETTINGS, *SEGMENTATION_SETTINGS)
    if model in SEGMENTATION_MODELS:
        others = (*NCE_SETTINGS, *CYCLE_SETTINGS, *UNPAIRED_SETTINGS, *PAIRED_SETTINGS, *VOLUME_SETTINGS,
                  *SLICE_SETTINGS, *INVERTIBLE_SETTINGS, "holdout")
        return tuple(dict.fromkeys(name for name in others if name not in SEGMENTATION_TAKES))
    ignored = SEGMENTATION_SETTINGS + INVERTIBLE_SETTINGS + (CYCLE_SETTINGS if model in CUT_MODELS else NCE_SETTINGS)
    ignored += UNPAIRED_SETTINGS if model == "pix2pix" else PAIRED_SETTINGS
    return ignored + (SLICE_SETTINGS if model in VOLUME_MODELS else VOLUME_SETTINGS)

# Named settings that replace the defaults; flags given explicitly still win.
PRESETS: dict[str, dict] = {
    # The most quality per CPU minute measured on a 2-core machine (README, "What the flags are worth"): a
    # narrow ResNet generator, least-squares GAN loss and augmentation, at the slices' own 217x181 (no
    # resize to lose detail to), held to the source's anatomy by the MIND structure loss. 200 epochs take
    # about 56 minutes there (bfloat16).
    "cpu": dict(generator="resnet6", filters=16, gan_loss="lsgan", augment=True, image_size=[217, 181],
                lambda_structure=5.0, structure="mind", epochs=200),
}
# The same names for the volume models: what trains a 3D CycleGAN on a 2-core CPU in minutes, not days.
VOLUME_PRESETS: dict[str, dict] = {
    "cpu": dict(generator="resnet6_3d", filters=8, patch=[32, 32, 32], epochs=50),
}
# And for Vox2Vox: the README's demo settings (synthetic 48x56x40 cases on a 2-core CPU).
SEGMENTATION_PRESETS: dict[str, dict] = {
    "cpu": dict(filters=8, patch=[32, 32, 32], epochs=300, batch=2),
}
# And for iVAN: half the paper's growth and blocks, on 96x96 crops (the network takes any size) at 5 times its
# rate, halved every 30 epochs. A step at the paper's settings and size takes 10 s on a 2-core CPU, this one
# 0.5 s; the README's "What 30 CPU minutes reach" compares it with three other settings.
INVERTIBLE_PRESETS: dict[str, dict] = {
    "cpu": dict(filters=16, blocks=4, crop=[96, 96], learning_rate=5e-4, epochs=100, lr_step_epochs=30),
}


def preset_settings(preset: str | None, model: str) -> dict:
    """The settings ``--preset`` names for ``--model``, without those the model does not take."""
    presets = (VOLUME_PRESETS if model in VOLUME_MODELS else
               SEGMENTATION_PRESETS if model in SEGMENTATION_MODELS else
               INVERTIBLE_PRESETS if model in INVERTIBLE_MODELS else PRESETS)
    return {k: v for k, v in (presets[preset] if preset else {}).items() if k not in ignored_settings(model)}


def _flags(settings: dict) -> str:
    """Settings written as the flags that give them (``--filters 16 --augment``)."""
    def value(v):
        return "" if v is True else " " + (" ".join(map(str, v)) if isinstance(v, list) else str(v))
    return " ".join(f"--{k.replace('_', '-')}{value(v)}" for k, v in settings.items())


def image_size(text: str) -> int:
    value = int(text)
    if value < 8:
        raise argparse.ArgumentTypeError(f"{value} is too small: at least 8 pixels")
    return value


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    defaults = TrainOptions()
    parser.add_argument("--data", default=defaults.data, metavar="PATH",
                        help="the dataset's RAR archive, or a folder of images of two domains: trainA/ and "
                             "trainB/ (with testA/ and testB/ for aligned test pairs of the same file names), "
                             "A/ and B/, Tr1/TrainT1 and Tr2/TrainT2 or t1/ and t2/, or folders named after "
                             "--domains (default: %(default)s, downloaded and verified when missing; "
                             "CYCLEGAN_MRI_ARCHIVE may name a local copy)")
    parser.add_argument("--accept-checksum", action="store_true",
                        help="use an archive whose sha256 differs from the published one (a warning is printed)")
    parser.add_argument("--skip-bad-images", action="store_true",
                        help="skip corrupt or unreadable images with a warning instead of stopping")


def add_out_argument(parser: argparse.ArgumentParser, what: str) -> None:
    parser.add_argument("--out", default=TrainOptions.out, metavar="DIR",
                        help=f"the run directory {what} (default: %(default)s)")


def add_debug_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--debug", action="store_true", help="show full tracebacks instead of one-line errors")


def train_parser() -> argparse.ArgumentParser:
    d = TrainOptions()
    parser = Parser(
        prog="train.py",
        description="Train a CycleGAN that translates T1-weighted MRI slices to T2-weighted ones and back, or "
                    "the images of any two domains in a folder (--data) into each other. Running again with the "
                    "same --out resumes from the newest checkpoint.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    add_data_arguments(parser)
    add_out_argument(parser, "that receives checkpoints/, samples/, history.csv, logs/ and generators/")
    parser.add_argument("--preset", choices=sorted(PRESETS), default=None,
                        help="named settings that replace the tutorial's defaults (explicit flags still win): "
                             f"cpu = {_flags(PRESETS['cpu'])}; with --model cyclegan3d, cpu = "
                             f"{_flags(VOLUME_PRESETS['cpu'])}; with --model vox2vox, cpu = "
                             f"{_flags(SEGMENTATION_PRESETS['cpu'])}; with --model ivan, cpu = "
                             f"{_flags(INVERTIBLE_PRESETS['cpu'])}")
    parser.add_argument("--model", choices=sorted(MODEL_DEFAULTS), default=d.model,
                        help="cyclegan: unpaired, both directions (the tutorial); pix2pix: aligned pairs, one "
                             "--direction, with defaults --generator unet --discriminator patchgan --epochs 200; "
                             "cut / fastcut: unpaired, one contrastive one-sided model per direction, with "
                             "defaults --generator resnet9 --discriminator patchgan --gan-loss lsgan "
                             "--lr-schedule linear --epochs 400 / 200; cyclegan3d: unpaired NIfTI volumes "
                             "(--data DIR with t1/ and t2/ folders of .nii/.nii.gz), trained on random patches, "
                             "with defaults " + _flags(MODEL_DEFAULTS["cyclegan3d"]) + "; vox2vox: 3D tumour "
                             "segmentation of BraTS cases (--data DIR of case folders), with defaults "
                             + _flags(MODEL_DEFAULTS["vox2vox"]) + "; ivan: one invertible network trained on "
                             "aligned pairs, whose forward pass translates A to B and whose exact inverse B to A "
                             "(or, with --task fusion, fuses A and B into one image), with defaults "
                             + _flags({k: v for k, v in MODEL_DEFAULTS["ivan"].items()
                                       if k not in ADVERSARIAL_SETTINGS}))
    parser.add_argument("--domains", type=domain_name, nargs=2, default=None, metavar=("NAME_A", "NAME_B"),
                        help="names of the two domains (e.g. MRI CT), used in sample grids, logs, history.csv, "
                             "generators/<a>_to_<b>.keras, --direction and evaluation.json; folders of these "
                             "names (MRI/, trainMRI/, testMRI/...) are recognised in --data (default: T1 T2 for "
                             "the tutorial's data, A B otherwise; a resumed run keeps its names)")
    parser.add_argument("--channels", nargs="+", default=None, metavar="C",
                        help="train on grayscale (1) or colour (3) images: colour images are converted to gray, "
                             "gray ones repeated in three channels (default: 3 if any image holds colour, else "
                             "1; a colour file whose channels agree counts as gray). With --model vox2vox: the "
                             "contrasts that are the input channels, in order, from t1 t1ce t2 flair (or t1n t1c "
                             "t2w t2f) (default: all four)")
    parser.add_argument("--epochs", type=positive_int, default=d.epochs,
                        help="total number of epochs to reach (a resumed run continues counting)")
    parser.add_argument("--batch", type=positive_int, default=d.batch, help="images per domain in one step")
    parser.add_argument("--image-size", type=image_size, nargs=2, default=list(d.image_size), metavar=("H", "W"),
                        help="rows and columns every slice is resized to (the dataset's slices are 217 181; "
                             "generators pad by reflection to their stride and crop back, so any size works)")
    parser.add_argument("--crop", type=image_size, nargs=2, default=None, metavar=("H", "W"),
                        help="train on random H x W crops of the (resized) slices, and translate whole slices: "
                             "cheaper steps, and more of them per minute (default: whole slices)")
    parser.add_argument("--filters", type=positive_int, default=d.filters,
                        help="width of the first layer of every network (64 is the tutorial's model); for --model "
                             "ivan, the growth of its dense blocks (32 is the paper's)")
    parser.add_argument("--generator", default=d.generator,
                        help="generator architecture: tutorial (concatenating blocks), resnet6 or resnet9 (the "
                             "CycleGAN paper's additive blocks, reflection padding), unet (skip connections)")
    parser.add_argument("--discriminator", default=d.discriminator, help="discriminator architecture")
    parser.add_argument("--learning-rate", type=float, default=d.learning_rate,
                        help="Adam learning rate (of every epoch, or the rate the schedule starts from; a resume "
                             "uses the value given now)")
    parser.add_argument("--beta-1", type=float, default=d.beta_1, help="Adam beta_1")
    parser.add_argument("--lambda-cycle", type=float, default=d.lambda_cycle,
                        help="weight of each direction's cycle-consistency L1 loss")
    parser.add_argument("--lambda-identity", type=float, default=d.lambda_identity,
                        help="weight of the identity L1 loss")
    cut = parser.add_argument_group("CUT and FastCUT (--model cut, --model fastcut)")
    cut.add_argument("--lambda-nce", type=float, default=d.lambda_nce, metavar="W",
                     help="weight of the PatchNCE loss (default: 1 for cut, 10 for fastcut)")
    cut.add_argument("--nce-temperature", type=float, default=d.nce_temperature,
                     help="temperature of the PatchNCE softmax")
    cut.add_argument("--nce-patches", type=positive_int, default=d.nce_patches,
                     help="locations sampled per encoder layer and image for PatchNCE")
    volumes = parser.add_argument_group("volumes (--model cyclegan3d; --patch and --patches-per-epoch also "
                                        "--model vox2vox)")
    volumes.add_argument("--patch", type=positive_int, nargs=3, default=d.patch, metavar=("D", "H", "W"),
                         help="voxels of the random training patches along the canonical axes (right-left, "
                              "anterior-posterior, inferior-superior); translate.py slides a window of this size "
                              "over whole volumes (default: 128 128 64, the anchor's; 32 32 32 with --preset cpu)")
    volumes.add_argument("--spacing", type=float, nargs=3, default=d.spacing, metavar=("X", "Y", "Z"),
                         help="resample every volume to voxels of this size in mm first (default: keep each "
                              "volume's own grid); translations are resampled back to the input's grid")
    volumes.add_argument("--min-foreground", type=float, default=d.min_foreground, metavar="FRACTION",
                         help="draw training patches until at least this fraction of their voxels is brighter than "
                              "background (up to 20 draws, else the fullest one)")
    volumes.add_argument("--pad-volumes", action=argparse.BooleanOptionalAction, default=d.pad_volumes,
                         help="pad volumes smaller than --patch with background; --no-pad-volumes leaves them "
                              "out of training instead (and refuses a patch larger than every volume)")
    volumes.add_argument("--patches-per-epoch", type=positive_int, default=d.patches_per_epoch, metavar="N",
                         help="patches drawn from each domain per epoch (default: one per volume of the larger "
                              "domain, at least one batch)")
    volumes.add_argument("--padding", choices=("replicate", "reflect", "zero"), default=d.padding,
                         help="how the 3D generator's convolutions pad: replicate the edge voxels (the anchor's), "
                              "reflect, or zeros (default: replicate)")
    segmentation = parser.add_argument_group(
        "segmentation (--model vox2vox: --data is a folder of BraTS case folders, 2020 or 2023 naming)")
    segmentation.add_argument("--classes", type=int, nargs="+", default=d.classes, metavar="LABEL",
                              help="the label values of the segmentations, background first (default: 0 1 2 4 for "
                                   "the 2020 naming, 0 1 2 3 for the 2023 naming); any other value in a label "
                                   "file is an error")
    segmentation.add_argument("--class-weights", type=float, nargs="+", default=d.class_weights, metavar="W",
                              help="the generalized Dice loss's weight of each class, in --classes order "
                                   "(default: balanced, inversely proportional to each label's voxel count in the "
                                   "training cases, summing to 1; written to run.json)")
    segmentation.add_argument("--holdout-cases", type=int, default=d.holdout_cases, metavar="K",
                              help="keep K cases out of training for evaluate.py: a fixed draw, the same for "
                                   "every --seed, recorded in run.json (default: 0; a resumed run keeps its own)")
    segmentation.add_argument("--lambda-dice", type=float, default=d.lambda_dice, metavar="ALPHA",
                              help="weight of the generalized Dice loss against the adversarial loss")
    segmentation.add_argument("--dropout", type=float, default=d.dropout,
                              help="dropout rate after each encoder and decoder step of both networks")
    segmentation.add_argument("--tumour-fraction", type=float, default=d.tumour_fraction, metavar="P",
                              help="fraction of training patches centred on a tumour voxel; the others are centred "
                                   "on a random brain voxel")
    segmentation.add_argument("--rotate", type=float, default=d.rotate, metavar="DEGREES",
                              help="turn each training patch by random angles of up to this much about each axis "
                                   "(0 = off; --augment flips along each axis)")
    ivan = parser.add_argument_group("iVAN (--model ivan; aligned pairs as pix2pix, --pairs included)")
    ivan.add_argument("--task", choices=("synthesis", "fusion"), default=d.task,
                      help="synthesis: the network's forward pass translates A to B (A repeated in two channels, "
                           "the output read as the mean of its two) and its inverse B to A; fusion: it fuses the "
                           "pair (A, B) into one image (fuse.py) trained towards --fusion-reference, and its "
                           "inverse decomposes a fused image back into A and B")
    ivan.add_argument("--blocks", type=positive_int, default=d.blocks,
                      help="invertible blocks, each an LU-decomposed 1x1 convolution and an affine coupling")
    ivan.add_argument("--lambda-forward", type=float, default=d.lambda_forward, metavar="W",
                      help="weight of the forward loss (the mean squared error of the output's channel mean to "
                           "the target) against the reconstruction loss (the inverse of the output, clipped to the "
                           "image range, against the input)")
    ivan.add_argument("--lambda-inverse", type=float, default=d.lambda_inverse, metavar="W",
                      help="weight of the inverse loss: the inverse of the real target (repeated in both channels) "
                           "against the source, which trains the B to A direction (fusion: the decomposition of "
                           "the reference fused image); 0 = the paper's loss alone")
    ivan.add_argument("--fusion-reference", choices=("laplacian", "average", "maximum"), default=d.fusion_reference,
                      help="the classical fusion of each training pair that --task fusion learns: a 4-level "
                           "Laplacian pyramid (details of larger magnitude, averaged base), the mean, or the "
                           "pixel-wise maximum")
    pix2pix = parser.add_argument_group("pix2pix (--model pix2pix)")
    pix2pix.add_argument("--direction", default=d.direction, metavar="A_to_B",
                         help="the one direction a pix2pix run learns, <source>_to_<target> in the domains' "
                              "names, lower case: t1_to_t2 or t2_to_t1, a_to_b or b_to_a, mri_to_ct... "
                              "(default: the first domain to the second)")
    pix2pix.add_argument("--pairs", metavar="DIR", default=d.pairs,
                         help="train on your own aligned pairs: DIR holds one folder per domain (t1/ and t2/, "
                              "A/ and B/, or the domains' names) with slices of the same names (default: the "
                              "dataset's 43 aligned pairs, or its 34 training pairs with --holdout; for other "
                              "--data, the training files of the same name in both domains)")
    pix2pix.add_argument("--norm", choices=("batch", "instance"), default=d.norm,
                         help="normalisation in the U-Net and PatchGAN (pix2pix uses batch)")
    pix2pix.add_argument("--lambda-l1", type=float, default=d.lambda_l1,
                         help="weight of the L1 distance to the real target")
    parser.add_argument("--gan-loss", choices=("bce", "lsgan"), default=d.gan_loss,
                        help="adversarial loss: binary cross-entropy from logits (the tutorial) or least squares "
                             "(the CycleGAN paper)")
    parser.add_argument("--pool-size", type=int, default=d.pool_size,
                        help="show each discriminator a history of this many past fakes (the paper uses 50; "
                             "0 = only the newest, as the tutorial; single device only)")
    parser.add_argument("--lambda-structure", type=float, default=d.lambda_structure, metavar="W",
                        help="weight of a structure-consistency loss between each image and its translation "
                             "(same anatomy, new contrast); 0 = none, as the tutorial")
    parser.add_argument("--structure", choices=("mind", "gradient"), default=d.structure,
                        help="the structure loss: mind (modality-independent neighbourhood descriptors, "
                             "Heinrich et al. 2012) or gradient (normalised cross-correlation of gradient "
                             "magnitudes)")
    parser.add_argument("--lr-schedule", choices=("constant", "linear", "step"), default=d.lr_schedule,
                        help="constant learning rate (the tutorial); linear: held for the first half of --epochs "
                             "and decayed linearly, epoch by epoch, to zero in the second (the CycleGAN paper; "
                             "raising --epochs on a resumed run stretches what is left of the decay, never raising "
                             "the rate); step: halved every --lr-step-epochs epochs (iVAN)")
    parser.add_argument("--lr-step-epochs", type=positive_int, default=d.lr_step_epochs, metavar="N",
                        help="with --lr-schedule step, the epochs between two halvings of the learning rate")
    parser.add_argument("--augment", action=argparse.BooleanOptionalAction, default=d.augment,
                        help="random left-right flips and shifts of up to 8 pixels, drawn anew every epoch")
    parser.add_argument("--holdout", action="store_true",
                        help="train without either image of the 9 held-out test pairs (for honest scores); a run "
                             "keeps this setting for life, and a resume that changes it is refused")
    parser.add_argument("--precision", choices=("auto", "float32", "mixed_bfloat16", "mixed_float16"),
                        default=d.precision,
                        help="numeric precision: auto picks mixed_bfloat16 on GPUs from Ampere on and on CPUs with "
                             "bfloat16 units (AVX512-BF16 or AMX), mixed_float16 (with loss scaling) on older GPUs, "
                             "float32 on other CPUs; instance-norm statistics and losses are float32 in every mode, "
                             "and a run may resume under another precision")
    parser.add_argument("--xla", choices=("auto", "on", "off"), default=d.xla,
                        help="XLA-compile the train step: auto means on for a single GPU, off on CPUs and under "
                             "tf.distribute; if compilation fails, training continues without it")
    parser.add_argument("--strategy", choices=("default", "mirrored", "multiworker"), default=d.strategy,
                        help="tf.distribute strategy: mirrored uses every GPU of this machine, multiworker several "
                             "machines described by TF_CONFIG; --batch is the global batch, split across replicas")
    parser.add_argument("--seed", type=int, default=d.seed,
                        help="seed for weights, data order and augmentation (default: a random one, recorded in "
                             "run.json; a resume keeps the run's seed)")
    parser.add_argument("--verbose", type=int, choices=(0, 1, 2), default=None,
                        help="0 silent, 1 progress bar, 2 one line per epoch (default: bar on a terminal)")
    parser.add_argument("--dry-run", action="store_true",
                        help="load the data and build the models, print counts, shapes and parameters, and exit")
    add_debug_argument(parser)
    return parser


def parse_train_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """``train.py``'s arguments, with the defaults of ``--model`` and of ``--preset`` when one is named."""
    parser = train_parser()
    args = parser.parse_args(argv)
    defaults = {**MODEL_DEFAULTS[args.model], **preset_settings(args.preset, args.model)}
    if defaults:
        parser.set_defaults(**defaults)
        args = parser.parse_args(argv)
    return args


def train_options(args: argparse.Namespace) -> TrainOptions:
    """The run settings of parsed ``train.py`` arguments."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainOptions) if hasattr(args, f.name)}
    values.update(channel_settings(values.get("model", TrainOptions.model), values.get("channels")))
    for name in ("classes", "class_weights"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if values.get("holdout_cases") is not None and values["holdout_cases"] < 0:
        raise UserError(f"--holdout-cases must be 0 or more, got {values['holdout_cases']}")
    if not 0 <= values.get("tumour_fraction", 0.5) <= 1:
        raise UserError(f"--tumour-fraction {values['tumour_fraction']}: must be between 0 and 1")
    if values.get("rotate", 0.0) < 0:
        raise UserError(f"--rotate {values['rotate']}: a largest angle in degrees, 0 or more")
    if not 0 <= values.get("dropout", 0.0) < 1:
        raise UserError(f"--dropout {values['dropout']}: must be at least 0 and below 1")
    values["image_size"] = tuple(values["image_size"])
    for name in ("patch", "spacing"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if values.get("spacing") is not None and min(values["spacing"]) <= 0:
        raise UserError(f"--spacing {' '.join(map(str, values['spacing']))}: voxel sizes must be positive")
    if not 0 <= values.get("min_foreground", 0) < 1:
        raise UserError(f"--min-foreground {values['min_foreground']}: must be at least 0 and below 1")
    if values.get("domains") is not None:
        values["domains"] = tuple(Domains.of(values["domains"]).names)  # two names that differ
    if values.get("crop") is not None:
        values["crop"] = tuple(values["crop"])
        if any(c > s for c, s in zip(values["crop"], values["image_size"])):
            raise UserError(f"--crop {' '.join(map(str, values['crop']))} is larger than the "
                            f"{' '.join(map(str, values['image_size']))} slices (--image-size)")
    if values.get("verbose") is None:
        values["verbose"] = "auto"
    options = TrainOptions(**values)
    check_model_flags(options)
    return options


def channel_settings(model: str, channels: Sequence[str] | None) -> dict:
    """``--channels`` as the model reads it: contrast names for a segmentation run, else a count of 1 or 3."""
    if model in SEGMENTATION_MODELS:
        from cyclegan_mri.data.brats import contrast_names

        return {"contrasts": contrast_names(channels) if channels else None, "channels": None}
    if channels is None or isinstance(channels, int):
        return {"channels": channels}
    if len(channels) != 1 or channels[0] not in ("1", "3"):
        raise UserError(f"--channels {' '.join(channels)}: 1 (grayscale) or 3 (colour) for --model {model}; "
                        "contrast names are for --model vox2vox")
    return {"channels": int(channels[0])}


def check_model_flags(options: TrainOptions) -> None:
    """Refuse flags the chosen model would silently ignore: pix2pix's on a CycleGAN run, and the reverse."""
    defaults = TrainOptions()

    def given(names):
        return [f"--{name.replace('_', '-')}" for name in names if getattr(options, name) != getattr(defaults, name)]

    if options.lr_schedule != "step" and options.lr_step_epochs != defaults.lr_step_epochs:
        raise UserError("--lr-step-epochs only applies to --lr-schedule step")
    if options.model in INVERTIBLE_MODELS:
        own = MODEL_DEFAULTS[options.model]
        refused = given(ignored_settings(options.model)) + [
            f"--{name.replace('_', '-')}" for name in ADVERSARIAL_SETTINGS
            if getattr(options, name) != own.get(name, getattr(defaults, name))]
        if refused:
            raise UserError(f"{', '.join(refused)} do not apply to --model {options.model} (one invertible network "
                            "trained on aligned pairs by mean squared errors, without a discriminator; it learns "
                            "both directions)")
        return
    invertible_only = given(INVERTIBLE_SETTINGS)
    if invertible_only:
        raise UserError(f"{', '.join(invertible_only)} only apply to --model ivan")
    if options.model in SEGMENTATION_MODELS:
        refused = given(ignored_settings(options.model))
        if refused:
            raise UserError(f"{', '.join(refused)} do not apply to --model {options.model} (it segments --patch "
                            "windows of multi-contrast volumes; --holdout-cases keeps cases for evaluation)")
        return
    segmentation_only = given(SEGMENTATION_SETTINGS)
    if segmentation_only:
        raise UserError(f"{', '.join(segmentation_only)} only apply to --model vox2vox")
    if options.model in VOLUME_MODELS:
        slices_only = given(SLICE_SETTINGS)
        if slices_only:
            raise UserError(f"{', '.join(slices_only)} do not apply to --model {options.model} (it trains on "
                            "--patch windows of grayscale volumes)")
    else:
        volume_only = given(VOLUME_SETTINGS)
        if volume_only:
            raise UserError(f"{', '.join(volume_only)} only apply to --model cyclegan3d")
    nce = given(NCE_SETTINGS)
    if options.model not in CUT_MODELS and nce:
        raise UserError(f"{', '.join(nce)} only apply to --model cut and fastcut")
    if options.model in CUT_MODELS:
        cycle = given(CYCLE_SETTINGS)
        if cycle:
            raise UserError(f"{', '.join(cycle)} do not apply to --model {options.model} (no cycle: its "
                            "generators are held to their source by PatchNCE)")
    if options.model == "pix2pix":
        if given(UNPAIRED_SETTINGS):
            raise UserError("--lambda-structure only applies to the unpaired models (pix2pix is held to the "
                            "anatomy by its L1 distance to the aligned target)")
        return
    paired_only = given(PAIRED_SETTINGS)
    if paired_only:
        raise UserError(f"{', '.join(paired_only)} only apply to --model pix2pix (the unpaired models learn both "
                        "directions, with instance normalisation in every network)")


def load_run_options(out: str | Path) -> TrainOptions | None:
    """The options a run directory was trained with, or None for a new directory."""
    path = Path(out) / "run.json"
    if not path.exists():
        return None
    return TrainOptions.from_json(json.loads(path.read_text()))
