"""What this CPU can do, read from ``/proc/cpuinfo``: the instruction sets that decide precision.

bf16 inference needs bf16 units: ``avx512_bf16`` (AVX-512 BF16 dot products, e.g. AMD Zen 4,
Intel Cooper Lake and later) or ``amx_bf16`` (Intel AMX tiles, Sapphire Rapids and later).
Without them OpenVINO would emulate bf16 in fp32 (slower, and not what a user asked for).
"""
import functools
import platform

__all__ = ["cpu_flags", "cpu_isa", "has_bf16", "isa_summary"]

CPUINFO = "/proc/cpuinfo"


@functools.lru_cache(maxsize=None)
def cpu_flags(path=CPUINFO):
    """The CPU feature flags of the first processor in ``path`` (empty off Linux).

    Returns
    -------
    frozenset of str
        E.g. ``{'avx2', 'avx512f', 'avx512_bf16', 'amx_bf16', ...}``.
    """
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() in ("flags", "Features"):
                    return frozenset(value.split())
    except OSError:
        pass
    return frozenset()


def cpu_isa(flags=None):
    """The instruction sets that matter here, as a dict of bool.

    Parameters
    ----------
    flags : iterable of str, optional
        Default :func:`cpu_flags`.

    Returns
    -------
    dict
        ``avx2``, ``avx512`` (``avx512f``), ``avx512_bf16``, ``amx`` (``amx_bf16``) and ``bf16``
        (either of the last two).
    """
    flags = set(cpu_flags() if flags is None else flags)
    isa = {"avx2": "avx2" in flags, "avx512": "avx512f" in flags,
           "avx512_bf16": "avx512_bf16" in flags, "amx": "amx_bf16" in flags}
    isa["bf16"] = isa["avx512_bf16"] or isa["amx"]
    return isa


def has_bf16(flags=None):
    """bool: whether this CPU has bf16 units (``avx512_bf16`` or ``amx_bf16``)."""
    return cpu_isa(flags)["bf16"]


def isa_summary(flags=None):
    """One line for logs and benchmarks, e.g. ``'x86_64 avx2 avx512 avx512_bf16'``."""
    isa = cpu_isa(flags)
    names = [k for k in ("avx2", "avx512", "avx512_bf16", "amx") if isa[k]]
    return " ".join([platform.machine() or "cpu"] + (names or ["(no avx2)"]))
