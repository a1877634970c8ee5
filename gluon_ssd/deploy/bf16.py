"""bf16 inference of the bundle's ONNX graph (OpenVINO), gated by its agreement with fp32.

As for int8 (:mod:`.int8`), a reduced precision is another model until shown otherwise: the
export runs the ONNX graph in OpenVINO at ``f32`` and at ``bf16`` on the calibration images,
records :func:`~.postprocess.detection_agreement` of bf16 with f32 in the manifest, and refuses
the bf16 record below a tolerance. :func:`gluon_ssd.deploy.load` picks bf16 by itself only where
that record passed and the CPU has bf16 units.
"""
import math

from . import postprocess
from .cpu import has_bf16, isa_summary
from .postprocess import AGREEMENT_SCORE

__all__ = ["DEFAULT_BF16_TOLERANCE", "measure_bf16"]

# Minimum agreement (VOC07 mAP of bf16 detections against f32 detections scoring >= 0.5): bf16
# keeps 8 mantissa bits, so scores move by ~1e-2 and a random net's many near-tied detections
# swap places and classes; a trained net's confident detections do not. Measured (AVX-512 BF16,
# no AMX) on the seeded random mobilenet0.25 SSDs of tests/deploy_fixtures.py, 8 noise images:
# 0.94, 0.93, 0.83 (seeds 0-2). Stricter than int8's 0.8: bf16 has no calibration to blame.
DEFAULT_BF16_TOLERANCE = 0.9


def measure_bf16(onnx_path, images, tolerance=DEFAULT_BF16_TOLERANCE, batch=8):
    """Agreement of OpenVINO bf16 with OpenVINO f32 on ``images``, as a manifest entry.

    Parameters
    ----------
    onnx_path : str
        The exported whole-detector ONNX graph.
    images : numpy.ndarray
        The graph's input batch: ``(N, 3, H, W)`` float32 normalized, or ``(N, H, W, 3)`` uint8.
    tolerance : float or None
        Minimum agreement; None records without refusing.
    batch : int
        Images per inference.

    Returns
    -------
    dict
        ``{"agreement": mAP or None, "num_reference_detections", "min_required", "metric",
        "verified"}``.

    Raises
    ------
    ValueError
        The CPU has no bf16 units, OpenVINO is not installed, or the agreement is below
        ``tolerance`` (or cannot be measured while a tolerance is set).
    """
    import numpy as np
    if not has_bf16():
        raise ValueError(f"bf16=True needs a CPU with bf16 units (avx512_bf16 or amx_bf16); "
                         f"this one has {isa_summary()}: export without bf16")
    try:
        from .runtimes import OpenVINOSession
        sessions = [OpenVINOSession(onnx_path, p) for p in ("fp32", "bf16")]
    except ImportError:
        raise ValueError("bf16=True runs OpenVINO: pip install 'gluon_ssd[runtimes]'") from None
    dets = []
    for session in sessions:
        parts = [session.run(images[i:i + batch]) for i in range(0, len(images), batch)]
        dets.append([np.concatenate(p) for p in zip(*parts)])
    reference, reduced = dets
    agreement = postprocess.detection_agreement(reference, reduced)
    measured = None if math.isnan(agreement) else agreement
    entry = {
        "agreement": measured,
        "num_reference_detections": int((reference[1] >= AGREEMENT_SCORE).sum()),
        "min_required": tolerance,
        "metric": f"VOC07 mAP (IoU 0.5) of OpenVINO bf16 detections with OpenVINO f32 "
                  f"detections scoring >= {AGREEMENT_SCORE} as ground truth, on "
                  f"{len(images)} calibration images",
        "cpu": isa_summary(),
    }
    entry["verified"] = bool(tolerance is not None and measured is not None
                             and measured >= tolerance)
    if tolerance is not None:
        if measured is None:
            raise ValueError(f"bf16 agreement cannot be measured: the fp32 model has no "
                             f"detection scoring >= {AGREEMENT_SCORE} on the {len(images)} "
                             f"calibration images; use images with objects, or "
                             f"bf16_tolerance=None to record it unchecked")
        if measured < tolerance:
            raise ValueError(f"bf16 detections agree with fp32 at mAP {measured:.3f} < "
                             f"bf16_tolerance {tolerance}: refusing the bf16 export; lower the "
                             f"tolerance or export without bf16")
    return entry
