"""Tests for gluon_ssd.deploy.cpu: the CPU's ISA read from /proc/cpuinfo flags."""
import warnings

import pytest

from gluon_ssd.deploy import cpu


@pytest.mark.parametrize("flags, isa, bf16", [
    # AMD EPYC (Zen 2/3): AVX2 only.
    ("fpu sse2 avx avx2 fma", {"avx2": True, "avx512": False, "avx512_bf16": False, "amx": False},
     False),
    # AMD EPYC (Zen 4): AVX-512 with BF16 dot products, no AMX.
    ("avx2 avx512f avx512bw avx512_bf16", {"avx2": True, "avx512": True, "avx512_bf16": True,
                                           "amx": False}, True),
    # Intel Xeon (Sapphire Rapids): AVX-512 and AMX tiles.
    ("avx2 avx512f amx_bf16 amx_tile amx_int8", {"avx2": True, "avx512": True,
                                                 "avx512_bf16": False, "amx": True}, True),
])


def test_cpu_isa_from_cpuinfo(tmp_path, flags, isa, bf16):
    path = tmp_path / "cpuinfo"
    path.write_text(f"processor\t: 0\nmodel name\t: test\nflags\t\t: {flags}\n\nprocessor\t: 1\n"
                    f"flags\t\t: {flags}\n")
    read = cpu.cpu_flags(str(path))
    assert read == frozenset(flags.split())
    assert cpu.cpu_isa(read) == dict(isa, bf16=bf16) and cpu.has_bf16(read) == bf16
    assert cpu.isa_summary(read).split()[1:] == [k for k in ("avx2", "avx512", "avx512_bf16",
                                                             "amx") if isa[k]]
    assert cpu.cpu_flags(str(tmp_path / "missing")) == frozenset()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert cpu.cpu_isa()["avx2"] in (True, False)  # this machine's own flags parse
