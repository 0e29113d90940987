"""``python train.py``: train (or resume) a run. Its parser lives here; its settings become a ``TrainOptions``."""

from __future__ import annotations

import argparse
import dataclasses
from collections.abc import Sequence

from cyclegan_mri.cli.args import (
    Parser,
    add_data_arguments,
    add_debug_argument,
    add_out_argument,
    as_flags,
    image_size,
    non_negative_int,
    positive_int,
)
from cyclegan_mri.cli.common import run_main
from cyclegan_mri.data.brats import contrast_names
from cyclegan_mri.domains import Domains, domain_name
from cyclegan_mri.errors import UserError
from cyclegan_mri.record import TrainOptions, check_options
from cyclegan_mri.specs import SEGMENTATION, SPECS, ModelSpec, spec_of


def shown_defaults(spec: ModelSpec) -> dict:
    """The defaults ``--model``'s help shows: those that differ from the tutorial's, among the settings it takes."""
    return {k: v for k, v in spec.defaults.items() if k in spec.settings}


def presets() -> list[str]:
    """Every ``--preset`` name some model has."""
    return sorted({name for spec in SPECS.values() for name in spec.presets})


def preset_table() -> list[tuple[str, list[str], dict]]:
    """(preset, the models it gives the same settings, those settings), for ``--preset``'s help."""
    table: dict[tuple[str, str], tuple[str, list[str], dict]] = {}
    for spec in SPECS.values():
        for name in spec.presets:
            settings = spec.preset(name)
            entry = table.setdefault((name, repr(settings)), (name, [], settings))
            entry[1].append(spec.name)
    return list(table.values())


def architectures(which: str) -> str:
    """``"cyclegan: tutorial, resnet6, ...; pix2pix: ..."``: the generator or discriminator names of each model."""
    return "; ".join(f"{spec.name}: {', '.join(getattr(spec, which))}" for spec in SPECS.values()
                     if getattr(spec, which))


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
    parser.add_argument("--preset", choices=presets(), default=None,
                        help="named settings that replace the model's defaults (explicit flags still win): "
                             + "; ".join(f"{name} with --model {', '.join(models)} = {as_flags(settings)}"
                                         for name, models, settings in preset_table()))
    parser.add_argument("--model", choices=list(SPECS), default=d.model,
                        help="; ".join(f"{spec.name}: {spec.help}"
                                       + (f" (defaults {as_flags(shown_defaults(spec))})" if shown_defaults(spec) else "")
                                       for spec in SPECS.values()))
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
                        help="total number of epochs to reach (a resumed run continues counting); with --minutes, "
                             "a cap only when given")
    parser.add_argument("--minutes", type=float, default=None, metavar="M",
                        help="train for M minutes of wall-clock time instead of a number of epochs: the time "
                             "counts across resumes (give the same --minutes to resume, a larger one to extend), "
                             "training stops at the first step past the budget and keeps that epoch, and --lr-"
                             "schedule linear holds the rate for the first half of the budget and decays it to zero "
                             "at its end, planned from the measured epoch time (the plan and the time spent live in "
                             "the checkpoints); a budget shorter than one epoch is refused; without it, training "
                             "runs to --epochs")
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
                             "CycleGAN paper's additive blocks, reflection padding), unet (skip connections), "
                             "contrast (a per-pixel intensity map with a small-context correction); by model: "
                             + architectures("generators"))
    parser.add_argument("--discriminator", default=d.discriminator,
                        help="discriminator architecture: tutorial (the tutorial's PatchGAN), patchgan (pix2pix's "
                             "70x70 PatchGAN); by model: " + architectures("discriminators"))
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
    real = parser.add_argument_group(
        "slices from NIfTI volumes (every 2D model, when --data is a folder of volumes: BraTS case folders in the "
        "2018-2021 or 2023 naming, IXI's IXI-T1/ and IXI-T2/, <subject>_<contrast>.nii.gz files, or t1/ and t2/ "
        "folders; --domains names the two contrasts, e.g. T1 T2, T1 FLAIR)")
    real.add_argument("--plane", choices=("axial", "coronal", "sagittal"), default=d.plane,
                      help="the anatomical plane the volumes are cut along, found from each volume's affine")
    real.add_argument("--same-subjects", action="store_true",
                      help="an unpaired model takes both contrasts of every training subject; by default its two "
                           "domains come from disjoint subjects, so that it is never handed hidden pairs. Also "
                           "--model cyclegan3d on subjects' volumes")
    real.add_argument("--holdout-cases", type=int, default=d.holdout_cases, metavar="K",
                      help="keep K subjects (cases) out of training for evaluate.py: a fixed draw, the same for "
                           "every --seed, recorded in run.json; subjects under a test folder are held out as well "
                           "(default: 0; a resumed run keeps its own). Also --model cyclegan3d and vox2vox")
    volumes = parser.add_argument_group("volumes (--model cyclegan3d; --patch and --patches-per-epoch also "
                                        "--model vox2vox)")
    volumes.add_argument("--patch", type=positive_int, nargs=3, default=d.patch, metavar=("D", "H", "W"),
                         help="voxels of the random training patches along the canonical axes (right-left, "
                              "anterior-posterior, inferior-superior); translate.py slides a window of this size "
                              "over whole volumes (default: 128 128 64, as the reference 3D CycleGAN (davidiommi/3D-CycleGan-Pytorch-MedImaging); 32 32 32 with --preset cpu)")
    volumes.add_argument("--spacing", type=float, nargs=3, default=d.spacing, metavar=("X", "Y", "Z"),
                         help="resample every volume to voxels of this size in mm first (default: keep each "
                              "volume's own grid); translations are resampled back to the input's grid")
    volumes.add_argument("--min-foreground", type=float, default=d.min_foreground, metavar="FRACTION",
                         help="draw training patches until at least this fraction of their voxels is brighter than "
                              "background (up to 20 draws, else the fullest one); for a 2D model on volumes, keep "
                              "the slices with at least this fraction of foreground pixels")
    volumes.add_argument("--pad-volumes", action=argparse.BooleanOptionalAction, default=d.pad_volumes,
                         help="pad volumes smaller than --patch with background; --no-pad-volumes leaves them "
                              "out of training instead (and refuses a patch larger than every volume)")
    volumes.add_argument("--patches-per-epoch", type=positive_int, default=d.patches_per_epoch, metavar="N",
                         help="patches drawn from each domain per epoch (default: one per volume of the larger "
                              "domain, at least one batch)")
    volumes.add_argument("--padding", choices=("replicate", "reflect", "zero"), default=d.padding,
                         help="how the 3D generator's convolutions pad: replicate the edge voxels (as the reference 3D CycleGAN), "
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
    parser.add_argument("--intensity-map", choices=("none", "auto", "increasing", "decreasing"),
                        default=d.intensity_map,
                        help="start each generator from an unpaired intensity map fitted on the training data: "
                             "each foreground intensity goes to the other domain's intensity at the same "
                             "(increasing) or the opposite (decreasing) quantile; auto picks the polarity from "
                             "how intensity varies with depth below the edge of the foreground in each domain; "
                             "the network learns a correction to it (--model cyclegan, cut, fastcut, cyclegan3d; a "
                             "CycleGAN needs --lambda-identity 0) (none: start from the network alone, as the tutorial)")
    parser.add_argument("--lr-schedule", choices=("constant", "linear", "step"), default=d.lr_schedule,
                        help="constant learning rate (the tutorial); linear: held for the first half of --epochs "
                             "and decayed linearly, epoch by epoch, to zero in the second (the CycleGAN paper; "
                             "raising --epochs on a resumed run stretches what is left of the decay, never raising "
                             "the rate); step: halved every --lr-step-epochs epochs (iVAN)")
    parser.add_argument("--lr-step-epochs", type=positive_int, default=d.lr_step_epochs, metavar="N",
                        help="with --lr-schedule step, the epochs between two halvings of the learning rate")
    parser.add_argument("--lr-warmup", type=non_negative_int, default=d.lr_warmup, metavar="N",
                        help="raise the learning rate linearly over the first N epochs, from 1/N of the "
                             "--lr-schedule's rate to all of it, so that a higher --learning-rate does not "
                             "throw the networks off at the start (default: %(default)s, no warm-up)")
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
    spec = SPECS[args.model]
    defaults = {**spec.defaults, **spec.preset(args.preset)}
    if defaults:
        parser.set_defaults(**defaults)
        args = parser.parse_args(argv)
    if args.minutes is not None:
        # A time budget replaces the epoch count; --epochs caps it only when given (a default never stops it).
        parser.set_defaults(epochs=None)
        args.epochs = parser.parse_args(argv).epochs
    return args


def train_options(args: argparse.Namespace) -> TrainOptions:
    """The run settings of parsed ``train.py`` arguments, checked (``record.check_options``)."""
    values = {f.name: getattr(args, f.name) for f in dataclasses.fields(TrainOptions) if hasattr(args, f.name)}
    values.update(channel_settings(values.get("model", TrainOptions.model), values.get("channels")))
    for name in ("image_size", "crop", "patch", "spacing", "classes", "class_weights"):
        if values.get(name) is not None:
            values[name] = tuple(values[name])
    if values.get("domains") is not None:
        values["domains"] = tuple(Domains.of(values["domains"]).names)  # two names that differ
    if values.get("verbose") is None:
        values["verbose"] = "auto"
    options = TrainOptions(**values)
    check_options(options)
    return options


def channel_settings(model: str, channels: Sequence[str] | None) -> dict:
    """``--channels`` as the model reads it: contrast names for a segmentation run, else a count of 1 or 3."""
    if spec_of(model).kind == SEGMENTATION:
        return {"contrasts": contrast_names(channels) if channels else None, "channels": None}
    if channels is None or isinstance(channels, int):
        return {"channels": channels}
    if len(channels) != 1 or channels[0] not in ("1", "3"):
        raise UserError(f"--channels {' '.join(channels)}: 1 (grayscale) or 3 (colour) for --model {model}; "
                        "contrast names are for --model vox2vox")
    return {"channels": int(channels[0])}


def main(argv: Sequence[str] | None = None) -> int:
    options = train_options(parse_train_args(argv))
    from cyclegan_mri.training.trainer import train  # TensorFlow loads only once the flags are valid

    train(options)
    return 0


def cli() -> int:
    return run_main(main)
