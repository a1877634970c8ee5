"""``--ctx``: the devices a command runs on."""
import re

import mxnet as mx

__all__ = ["parse_ctx"]


def parse_ctx(text, single=False):
    """Devices from a ``--ctx`` value: ``'cpu'``, ``'cpu0,cpu1'``, ``'gpu0'``, ``'gpu:1'``,
    ``'gpu0,gpu1'`` -> list of ``mx.Context`` (one Context with ``single=True``).

    Raises
    ------
    ValueError
        An item is not ``cpu``, ``cpuN``, ``gpuN`` or ``gpu:N``; or ``single`` and several.
    """
    contexts = []
    for item in str(text).split(","):
        match = re.fullmatch(r"(cpu|gpu):?(\d*)", item.strip().lower())
        if not match:
            raise ValueError(f"unknown context {item.strip()!r} in --ctx {text!r}: use cpu, cpuN "
                             f"or gpuN (e.g. gpu0,gpu1)")
        contexts.append(mx.Context(match.group(1), int(match.group(2) or 0)))
    if single and len(contexts) != 1:
        raise ValueError(f"--ctx {text!r}: one device expected here (e.g. cpu or gpu0)")
    return contexts[0] if single else contexts
