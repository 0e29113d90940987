"""The learning rate of every epoch is decided by its number: resumes, interruptions and a changed --epochs
each give the documented rate (``cyclegan_mri.training.schedules``). Whole runs: the interrupted epoch in
test_interruptions.py, a raised --epochs in test_training_options.py."""

import pytest

from cyclegan_mri.training.schedules import LinearDecayPlan, rate_of_epoch

RATE = 2e-4


def reference_factor(epoch: int, epochs: int) -> float:
    """The CycleGAN reference's linear rule: 1 - max(0, n - S) / (N - S + 1), with S = N // 2."""
    hold = epochs // 2
    return 1.0 - max(0, epoch - hold) / (epochs - hold + 1)


def planned(epochs: int, finished: int = 0, plan: LinearDecayPlan | None = None) -> LinearDecayPlan:
    plan = plan or LinearDecayPlan()
    plan.plan(epochs, finished)
    return plan


@pytest.mark.parametrize("epochs", [1, 2, 7, 10, 200])
def test_a_fresh_plan_is_the_reference_rule(epochs):
    plan = planned(epochs)
    assert [plan.factor(n) for n in range(1, epochs + 1)] == pytest.approx(
        [reference_factor(n, epochs) for n in range(1, epochs + 1)])


def test_raising_the_epochs_while_the_rate_is_held_moves_the_decay_to_half_the_new_total():
    plan = planned(100, finished=20, plan=planned(100))
    plan.plan(300, finished=40)
    assert [plan.factor(n) for n in (41, 150)] == [1.0, 1.0]
    assert plan.factor(151) == pytest.approx(reference_factor(151, 300))


def test_raising_the_epochs_during_the_decay_goes_on_from_the_last_rate_without_a_jump():
    plan = planned(10)
    before = [plan.factor(n) for n in range(1, 8)]
    plan.plan(20, finished=7)
    after = [plan.factor(n) for n in range(8, 21)]
    assert before == pytest.approx([reference_factor(n, 10) for n in range(1, 8)])
    rates = before + after
    assert all(b < a for a, b in zip(rates[6:], rates[7:]))  # strictly falling from epoch 7 on
    assert after[0] < before[-1] and after[-1] > 0
    # Linear over the new epochs, to zero one step after the last.
    steps = [a - b for a, b in zip([before[-1], *after], after)]
    assert steps == pytest.approx([before[-1] / 14] * 13)


def test_raising_the_epochs_of_a_finished_run_never_raises_the_rate():
    plan = planned(10)
    last = plan.factor(10)
    plan.plan(15, finished=10)
    assert all(plan.factor(n) < last for n in range(11, 16))


def test_lowering_the_epochs_while_holding_starts_the_decay_now():
    plan = planned(100)
    plan.plan(50, finished=30)
    assert plan.factor(30) == 1.0 and plan.factor(31) == pytest.approx(20 / 21)


def test_the_constant_schedule_ignores_the_plan():
    assert rate_of_epoch("constant", RATE, LinearDecayPlan())(123) == RATE


@pytest.mark.parametrize("kind", ["constant", "linear", "step"])
def test_a_warmup_ramps_any_schedule_to_its_own_rate_over_its_epochs(kind):
    plan = planned(10)
    plain = rate_of_epoch(kind, RATE, plan, step_epochs=2)
    warm = rate_of_epoch(kind, RATE, plan, step_epochs=2, warmup=4)
    assert [warm(n) for n in range(1, 5)] == pytest.approx([plain(n) * n / 4 for n in range(1, 5)])
    assert [warm(n) for n in range(4, 11)] == pytest.approx([plain(n) for n in range(4, 11)])
    assert rate_of_epoch(kind, RATE, plan, step_epochs=2, warmup=0)(1) == plain(1)


def test_a_negative_warmup_is_a_one_line_error(capsys):
    from conftest import exit_code

    from cyclegan_mri.cli import train

    assert exit_code(train.main, ["--lr-warmup", "-1", "--dry-run"]) == 2
    assert "--lr-warmup: must be 0 or more, got -1" in capsys.readouterr().err
