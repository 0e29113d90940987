"""Choices made from the hardware: precision on CPUs with and without bfloat16 units, quiet device probing."""

import os

import pytest

from cyclegan_mri import devices
from cyclegan_mri.cli import common

EPYC = """processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni

processor\t: 1
model name\t: AMD EPYC 9B14
flags\t\t: fpu sse avx2 avx512f avx512_bf16 avx512_vnni
"""


def test_cpu_info_reads_the_model_and_flags(tmp_path):
    (tmp_path / "cpuinfo").write_text(EPYC)
    info = devices.cpu_info(tmp_path / "cpuinfo")
    assert info["model"] == "AMD EPYC 9B14"
    assert "avx512_bf16" in info["flags"] and info["flags"] == sorted(info["flags"])


@pytest.mark.parametrize("flags,environ,expected", [
    (["avx512f", "avx512_bf16"], {}, True),
    (["avx512f", "amx_bf16", "amx_tile"], {}, True),
    (["avx2", "avx512f", "avx512_vnni"], {}, False),  # AVX-512 without bfloat16 units: emulated, slower
    (["avx512_bf16"], {"TF_ENABLE_ONEDNN_OPTS": "0"}, False),  # without oneDNN, bfloat16 is converted
    (["avx512_bf16"], {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE"}, False),  # oneDNN capped below the units
    (["avx512_bf16"], {"ONEDNN_MAX_CPU_ISA": "AVX512_CORE_BF16"}, True),
])
def test_bfloat16_counts_as_fast_only_with_bfloat16_units_that_onednn_may_use(flags, environ, expected):
    assert devices.cpu_has_bf16(flags, environ) is expected


@pytest.mark.parametrize("has_bf16,expected", [(True, "mixed_bfloat16"), (False, "float32")])
def test_auto_precision_on_a_cpu_follows_its_bfloat16_units(monkeypatch, has_bf16, expected):
    monkeypatch.setattr(devices.tf.config, "list_physical_devices", lambda kind=None: [])
    monkeypatch.setattr(devices, "cpu_has_bf16", lambda: has_bf16)
    assert devices.resolve_precision("auto") == expected
    assert devices.resolve_precision("float32") == "float32"


@pytest.mark.parametrize("possible", [True, False])
def test_without_any_accelerator_driver_tensorflow_is_told_not_to_probe_for_one(monkeypatch, possible):
    monkeypatch.setenv("TF_ENABLED_DEVICE_TYPES", "recorded, so that the test's change is undone")
    monkeypatch.delenv("TF_ENABLED_DEVICE_TYPES")
    monkeypatch.setattr(common, "accelerator_possible", lambda: possible)
    common.quiet_tensorflow()
    assert os.environ.get("TF_ENABLED_DEVICE_TYPES") == (None if possible else "CPU")
