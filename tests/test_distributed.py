"""Training under tf.distribute: the same step as on one device, and a run shared by several workers."""

import json
import os
import socket
import subprocess
import sys

import pytest

from conftest import ROOT


@pytest.fixture(scope="module")
def two_device_results() -> dict:
    result = subprocess.run([sys.executable, str(ROOT / "tests" / "two_device_step.py")],
                            capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_two_replicas_give_the_weights_of_one_device(two_device_results):
    """Global batch 4 split 2+2, then the tutorial's last step (3 T1 against 4 T2) split unevenly."""
    result = two_device_results["2d"]
    assert result["replicas"] == 2
    assert result["max_relative_weight_difference"] <= 1e-5
    for name, value in result["losses"]["single"].items():
        assert result["losses"]["mirrored"][name] == pytest.approx(value, rel=1e-5), name


def test_the_dice_loss_of_two_replicas_is_that_of_their_whole_batch(two_device_results):
    """Each replica's share is half the global loss; its gradient, on its own half, is the global loss's."""
    result = two_device_results["dice"]
    assert result["replica_sum"] == pytest.approx(result["single"], rel=1e-5)
    assert result["max_gradient_difference"] <= 1e-5 * result["max_gradient"]


def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for s in sockets:
        s.bind(("127.0.0.1", 0))
    ports = [s.getsockname()[1] for s in sockets]
    for s in sockets:
        s.close()
    return ports


def test_two_workers_on_this_machine_train_one_run(archive, tmp_path):
    """--strategy multiworker with TF_CONFIG: the chief writes the run, the other worker only its scratch."""
    workers = [f"127.0.0.1:{port}" for port in free_ports(2)]
    out = tmp_path / "run"
    processes = []
    for index in range(2):
        env = {**os.environ, "TF_CONFIG": json.dumps({"cluster": {"worker": workers},
                                                      "task": {"type": "worker", "index": index}})}
        processes.append(subprocess.Popen(
            [sys.executable, "train.py", "--strategy", "multiworker", "--seed", "1", "--data", str(archive),
             "--out", str(out), "--epochs", "1", "--image-size", "16", "16", "--filters", "2", "--generator", "contrast",
             "--verbose", "2"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
    logs = []
    try:
        for process in processes:
            logs.append(process.communicate(timeout=400)[0])
    finally:
        for process in processes:
            process.kill()
    assert [p.returncode for p in processes] == [0, 0], logs[0][-2000:] + logs[1][-2000:]
    assert (out / "checkpoints" / "ckpt-1.index").exists()
    assert (out / "samples" / "image_at_epoch_0001.png").exists()
    assert (out / "generators" / "t1_to_t2.keras").exists()
    assert len((out / "history.csv").read_text().splitlines()) == 2
    assert sorted(p.name for p in (out / "workers").iterdir()) == ["worker-1"]
    epoch_lines = [next(line for line in log.splitlines() if "gen_t1_to_t2_loss" in line) for log in logs]
    assert epoch_lines[0].split("step - ")[1] == epoch_lines[1].split("step - ")[1]  # same losses on both
