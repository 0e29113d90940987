"""One training run: data, model, resume from the newest checkpoint, fit, export."""

from __future__ import annotations

import dataclasses
import json
import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

import keras
import tensorflow as tf

from cyclegan_mri.data.protocol import TrainingSet, load_training_data
from cyclegan_mri.devices import is_xla_failure, make_strategy, resolve_jit, resolve_precision, warn_xla_fallback
from cyclegan_mri.devices import precision as precision_policy
from cyclegan_mri.errors import UserError
from cyclegan_mri.models.base import TranslationModel
from cyclegan_mri.record import TrainOptions, load_run_options
from cyclegan_mri.rundir import RunDir, write_atomic
from cyclegan_mri.training.callbacks import EpochCheckpoint, HistoryCSV, ProjectedTime, SampleGrid, trim_outputs
from cyclegan_mri.training.guards import GracefulStop, MinutesBudget, StopOnNonFinite
from cyclegan_mri.training.schedules import EpochLearningRate, LinearDecayPlan, rate_of_epoch

# The epochs a --minutes run without --epochs may reach: the budget, not this, ends it.
UNBOUNDED_EPOCHS = 100_000
# Settings a resumed run keeps unless they are given again: its data would otherwise decide them anew.
KEPT_FROM_RUN = ("domains", "channels", "direction", "contrasts", "classes", "class_weights", "holdout_cases")


def epoch_limit(options: TrainOptions) -> int:
    """The last epoch training may reach: ``--epochs``, or unbounded under a ``--minutes`` budget alone."""
    return options.epochs if options.epochs is not None else UNBOUNDED_EPOCHS


@dataclass
class Session:
    """A built run, ready to fit: what ``train`` and the tests work with."""

    options: TrainOptions
    run: RunDir
    data: TrainingSet
    model: TranslationModel
    checkpoint: tf.train.Checkpoint
    manager: tf.train.CheckpointManager
    epoch: tf.Variable
    strategy: tf.distribute.Strategy
    precision: str
    lr_plan: LinearDecayPlan
    #: Seconds of training the run has spent in finished epochs (``--minutes``), kept in its checkpoints.
    spent: tf.Variable
    #: What the model fitted on its training data before the first step (``TranslationModel.prepare``).
    notes: list[str] = dataclasses.field(default_factory=list)

    @property
    def chief(self) -> bool:
        """Whether this process writes the run's outputs (always, except non-chief multi-worker tasks)."""
        return self.strategy.extended.should_checkpoint

    @property
    def initial_epoch(self) -> int:
        return int(self.epoch.numpy())

    @property
    def epoch_limit(self) -> int:
        return epoch_limit(self.options)

    @property
    def budget_left(self) -> float | None:
        """Seconds left of the ``--minutes`` budget (None without one)."""
        if self.options.minutes is None:
            return None
        return self.options.minutes * 60 - float(self.spent.numpy())

    def dataset(self) -> tf.data.Dataset:
        """The epochs from the restored one to the last, each in the order an uninterrupted run gives it."""
        return self.data.dataset(self.options, self.initial_epoch, max(self.epoch_limit - self.initial_epoch, 0))

    def learning_rates(self) -> EpochLearningRate:
        """The callback that gives each epoch its learning rate."""
        return EpochLearningRate(rate_of_epoch(self.options.lr_schedule, self.options.learning_rate, self.lr_plan,
                                               self.options.lr_step_epochs, self.options.lr_warmup))

    def steps_per_epoch(self) -> int:
        return self.data.steps_per_epoch(self.options)


def with_data_settings(options: TrainOptions, data: TrainingSet) -> TrainOptions:
    """``options`` with what the data decided (the domains' names, the channel count; for segmentation the
    contrasts, labels, class weights and held-out cases) and, for a directional model, the direction, checked
    against the domains."""
    options = dataclasses.replace(options, **data.decided())
    if options.spec.directional:
        direction = (options.direction or data.domains.forward).lower()
        data.domains.source_side(direction)  # a one-line error for a direction between other domains
        options = dataclasses.replace(options, direction=direction)
    return options


def with_run_settings(options: TrainOptions, saved: TrainOptions | None) -> TrainOptions:
    """``options`` with the settings a resumed run keeps unless they are given: its domains, channel count
    and direction (which its data would otherwise decide anew), and its seed (see ``with_seed``)."""
    if saved is not None:
        options = dataclasses.replace(options, **{name: getattr(options, name) if getattr(options, name) is not None
                                                  else getattr(saved, name) for name in KEPT_FROM_RUN})
        if options.holdout_cases == saved.holdout_cases:
            options = dataclasses.replace(options, held_out=saved.held_out)
    return with_seed(options, saved)


def build_model(options: TrainOptions, precision: str = "float32", jit_compile: bool | str = "auto") -> TranslationModel:
    """The compiled model ``options`` describe, with its optimizers' slots created.

    Call it inside the strategy's scope; ``precision`` is a Keras dtype policy name. The
    learning rate starts at ``--learning-rate``; in training, each epoch sets its own
    (``Session.learning_rates``).
    """
    with precision_policy(precision):
        model = options.spec.model_type().from_options(options)
        model.compile(learning_rate=options.learning_rate, beta_1=options.beta_1,
                      loss_scale=precision == "mixed_float16", jit_compile=jit_compile)
        model.build_optimizers()
    return model


def check_compatible(saved: TrainOptions, options: TrainOptions) -> None:
    """Refuse to resume a run with any setting its spec says a resume must keep (``ModelSpec.resume_identity``):
    networks that compute something else, or other data to train on."""
    identity = saved.spec.resume_identity if saved.model == options.model else ("model",)
    differences = [f"{name} {getattr(saved, name)!r} (asked {getattr(options, name)!r})"
                   for name in identity if getattr(saved, name) != getattr(options, name)]
    if options.seed is not None and saved.seed is not None and options.seed != saved.seed:
        # The seed decides the data order of every epoch: another one would not continue the same run.
        differences.append(f"seed {saved.seed!r} (asked {options.seed!r})")
    if differences:
        raise UserError("the run in --out was trained with " + ", ".join(differences)
                        + "; use the same settings to resume, or another --out for a new run")


def with_seed(options: TrainOptions, saved: TrainOptions | None) -> TrainOptions:
    """``options`` with the run's seed: the one asked for, else the resumed run's, else a new random one.

    Every run has a seed, recorded in run.json, so that a resume draws each epoch's data
    order as the uninterrupted run would have, and the run can be repeated.
    """
    if options.seed is not None:
        return options
    seed = saved.seed if saved is not None and saved.seed is not None else secrets.randbelow(2**31)
    return dataclasses.replace(options, seed=seed)


def open_session(options: TrainOptions) -> Session:
    """Load the data, build the model and restore the newest checkpoint of ``options.out``, if any."""
    run = RunDir.at(options.out)
    if options.strategy == "multiworker" and options.seed is None:
        # Each worker shuffles the data itself and keeps its shard: the shuffles must agree.
        raise UserError("--strategy multiworker needs --seed (the same on every worker)")
    saved = load_run_options(run.root)
    options = with_run_settings(options, saved)
    if saved is not None:
        check_compatible(saved, options)
    keras.utils.set_random_seed(options.seed)
    data = load_training_data(options)
    options = with_data_settings(options, data)
    data.steps_per_epoch(options)  # refuses a batch no epoch could fill, before the model is built
    if options.pool_size and options.strategy != "default":
        raise UserError("--pool-size works on a single device only; drop it or use --strategy default")
    strategy = make_strategy(options.strategy)
    precision = resolve_precision(options.precision)
    with strategy.scope():
        model = build_model(options, precision, resolve_jit(options.xla))
        notes = model.prepare(data)
        epoch = tf.Variable(0, dtype=tf.int64, trainable=False, name="epoch")
        lr_plan = LinearDecayPlan()
        spent = tf.Variable(0.0, dtype=tf.float64, trainable=False, name="trained_seconds")
        required = {"epoch": epoch, **model.trackables()}
        # Kept when present, never required: a run resumes under another precision (with or without
        # float16 loss scales) and from checkpoints made before the schedule's plan or the time spent was saved.
        optional = {"lr_plan": lr_plan, "trained_seconds": spent, **model.loss_scales()}
        checkpoint = tf.train.Checkpoint(**required, **optional)
        # Every worker restores the chief's newest checkpoint; every worker must also take part in
        # saving, but non-chief workers write theirs to a folder of their own that is never read.
        remove_partial_checkpoints(run.checkpoints)
        latest = tf.train.latest_checkpoint(str(run.checkpoints))
        if latest:
            restore(checkpoint, required, latest)
        if options.lr_schedule == "linear" and not (options.minutes and lr_plan.planned):
            # Under --minutes the epochs are planned from the measured pace (MinutesBudget); a resume keeps the plan.
            lr_plan.plan(epoch_limit(options), int(epoch.numpy()))
        if strategy.extended.should_checkpoint:
            manager = tf.train.CheckpointManager(checkpoint, str(run.checkpoints), max_to_keep=3)
        else:
            scratch = run.root / "workers" / f"worker-{strategy.cluster_resolver.task_id}"
            manager = tf.train.CheckpointManager(checkpoint, str(scratch), max_to_keep=1)
    return Session(options, run, data, model, checkpoint, manager, epoch, strategy, precision, lr_plan, spent, notes)


def restore(checkpoint: tf.train.Checkpoint, required: dict, path: str) -> None:
    """Restore ``checkpoint`` from ``path``, or refuse it with what does not fit (the half-filled model is then
    discarded). Everything in ``required`` must be in the file; the rest is restored where present."""
    try:
        # expect_partial: the file may hold more (optional parts) than this strict view of it.
        tf.train.Checkpoint(**required).restore(path).assert_existing_objects_matched().expect_partial()
    except (ValueError, AssertionError, tf.errors.OpError) as error:
        reason = str(error).strip().splitlines()[0][:300]
        raise UserError(f"{path} does not fit the model asked for ({reason}); it was made with another "
                        "--image-size, --filters or architecture: use those, or another --out") from None
    # The optional parts, and the save counter that numbers the next checkpoint.
    checkpoint.restore(path).expect_partial()


def remove_partial_checkpoints(folder: Path) -> None:
    """Remove what a save cut short left behind (TensorFlow writes into ``ckpt-N_temp`` first)."""
    if folder.is_dir():
        for leftover in folder.glob("*_temp*"):
            if leftover.is_dir():
                shutil.rmtree(leftover, ignore_errors=True)
            else:
                leftover.unlink(missing_ok=True)


def save_checkpoint(manager: tf.train.CheckpointManager) -> str:
    """Save a checkpoint; only a complete one becomes the newest (the state file is replaced last)."""
    try:
        return manager.save()
    except (OSError, tf.errors.OpError) as error:
        remove_partial_checkpoints(Path(manager.directory))
        reason = getattr(error, "strerror", None) or str(error).strip().splitlines()[0][:200]
        raise UserError(f"cannot write a checkpoint in {manager.directory} ({reason}); the newest complete one "
                        f"is {manager.latest_checkpoint or 'none'}; free space or fix permissions and run "
                        "the same command to resume") from None


def describe(session: Session) -> str:
    """Image counts, shapes and parameter counts, as ``--dry-run`` prints them."""
    lines = [session.data.describe(),
             f"steps per epoch: {session.steps_per_epoch()} at batch {session.options.batch}",
             f"precision: {session.precision}, XLA: {'on' if session.model.jit_compile is True else 'off'}, "
             f"replicas: {session.strategy.num_replicas_in_sync}, seed: {session.options.seed}"]
    for name, network in session.model.trackables().items():
        if isinstance(network, keras.Model):
            lines.append(f"{name}: {network.count_params():,} parameters, "
                         f"input {tuple(network.input_shape)} -> output {tuple(network.output_shape)}")
    lines += session.notes
    return "\n".join(lines)


def float32_copy(network: keras.Model, input_shape: tuple[int, ...] | None = None) -> keras.Model:
    """The same network and weights with every layer computing in float32, whatever policy it was trained in.

    A generator trained under mixed precision would otherwise be saved with its
    float16/bfloat16 layers, and run in them wherever it is loaded: emulated, about
    100 times slower, on a CPU without float16 units. ``input_shape`` fixes the
    copy's input size: a network trained on crops takes any size, but the copy
    that ``evaluate.py`` loads says which size its slices are resized to.
    """
    def as_float32(layer: keras.layers.Layer) -> keras.layers.Layer:
        config = layer.get_config()
        if "dtype" in config and layer.dtype_policy.name != "float32":
            config["dtype"] = "float32"
        return layer.__class__.from_config(config)

    with precision_policy("float32"):  # the copy's new input layer takes the global policy
        inputs = None if input_shape is None else keras.Input(shape=input_shape, name=network.inputs[0].name)
        copy = keras.models.clone_model(network, input_tensors=inputs, clone_function=as_float32)
    copy.set_weights(network.get_weights())
    return copy


def export_generators(model: TranslationModel, run: RunDir) -> list[Path]:
    """Save each translator, in float32, as a standalone ``.keras`` file that ``evaluate.py`` loads."""
    written = []
    run.generators.mkdir(parents=True, exist_ok=True)
    for direction, generator in model.translators().items():
        final = run.generator(direction)
        partial = final.with_name(f".{final.stem}.partial.keras")
        # At the run's slice size, in the generator's own channels (a fusion network takes a pair).
        float32_copy(generator, (*model.image_shape[:-1], generator.input_shape[-1])).save(partial)
        os.replace(partial, final)
        written.append(final)
    return written


def fit(session: Session, extra_callbacks: list[keras.callbacks.Callback] | None = None) -> keras.callbacks.History:
    """Train from the restored epoch to the last (``--epochs``, or where ``--minutes`` ends), writing every
    per-epoch output."""
    options, run = session.options, session.run
    outputs = [
        SampleGrid(run, *session.data.sample_inputs()),
        HistoryCSV(run.history),
        keras.callbacks.TensorBoard(str(run.logs), write_graph=False, profile_batch=0),
    ] if session.chief else []
    projection = [ProjectedTime(options.epochs, on_cpu=not tf.config.list_physical_devices("GPU"),
                                preset=options.preset)] if session.chief and options.verbose != 0 else []
    budget = []
    if options.minutes is not None:
        projection = []  # the budget says what is left instead
        limit = session.epoch_limit
        replan = (lambda total, finished: session.lr_plan.plan(min(total, limit), finished)
                  ) if options.lr_schedule == "linear" else None
        budget = [MinutesBudget(options.minutes, session.spent, session.steps_per_epoch(), replan,
                                finished=session.initial_epoch)]
    save = lambda: save_checkpoint(session.manager)  # noqa: E731
    graceful = GracefulStop(save)
    callbacks = [
        StopOnNonFinite(lambda: session.manager.latest_checkpoint),
        graceful,
        # Before the outputs: it sets the epoch's rate at its start and logs it at its end.
        session.learning_rates(),
        *outputs,
        *projection,
        *(extra_callbacks or []),
        # After every output of the epoch, so that their time counts against --minutes.
        *budget,
        # Last: the checkpoint of an epoch is the proof that the epoch's outputs were written.
        EpochCheckpoint(save, session.epoch),
    ]
    def run_fit():
        return session.model.fit(session.dataset(), epochs=session.epoch_limit, initial_epoch=session.initial_epoch,
                                 steps_per_epoch=session.steps_per_epoch(), callbacks=callbacks,
                                 verbose=options.verbose, shuffle=False)

    try:
        return run_fit()
    except Exception as error:
        # XLA fails at the first step's compilation, before any update: retrying without it loses nothing.
        if session.model.jit_compile is False or not is_xla_failure(error):
            raise
        warn_xla_fallback(error)
        session.model.jit_compile = False
        session.model.make_train_function(force=True)
        return run_fit()
    finally:
        # fit() skips on_train_end when a step or callback raises: give Ctrl-C back to the caller anyway.
        graceful.on_train_end()


def train(options: TrainOptions, extra_callbacks: list[keras.callbacks.Callback] | None = None) -> Session:
    """The whole of ``train.py``: open or resume the run in ``options.out``, train, export."""
    run = RunDir.at(options.out)
    created = not run.root.exists()
    if not options.dry_run:
        run.ensure_writable()  # fail on an unwritable --out before minutes of loading and building
    try:
        session = open_session(options)
    except BaseException:
        if created and run.root.is_dir() and not any(run.root.iterdir()):
            run.root.rmdir()  # bad data or flags leave no empty run directory behind
        raise
    print(describe(session))
    if options.dry_run:
        return session
    if session.chief:
        write_atomic(run.options, json.dumps(session.options.to_json(), indent=2) + "\n")
        trim_outputs(run, session.initial_epoch)
    if session.initial_epoch:
        print(f"resuming from epoch {session.initial_epoch} ({session.manager.latest_checkpoint})")
    left = session.budget_left
    if left is not None and left <= 0:
        print(f"the run has spent its --minutes {options.minutes:g} ({float(session.spent.numpy()) / 60:.1f} minutes "
              "of training); give a larger --minutes to train on")
    elif session.initial_epoch < session.epoch_limit:
        fit(session, extra_callbacks)
    if session.chief:
        for path in export_generators(session.model, run):
            print(f"saved {path}")
    return session
