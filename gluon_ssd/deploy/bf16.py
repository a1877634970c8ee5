"""bf16 inference of the bundle's ONNX graph (OpenVINO), gated by its agreement with fp32.

As for int8 (:mod:`.int8`), a reduced precision is another model until shown otherwise: the
export runs the ONNX graph in OpenVINO at ``f32`` and at ``bf16`` on the calibration images,
records :func:`~.postprocess.detection_agreement` of bf16 with f32 in the manifest, and refuses
the bf16 record below a tolerance. :func:`gluon_ssd.deploy.load` picks bf16 by itself only where
that record passed and the CPU has bf16 units.
"""
from .cpu import has_bf16, isa_summary
from .postprocess import agreement_record

__all__ = ["DEFAULT_BF16_TOLERANCE", "measure_bf16"]

# Minimum agreement (VOC07 mAP of bf16 detections against f32 detections scoring >= 0.5): bf16
# keeps 8 mantissa bits, so scores move by ~1e-2 and a random net's many near-tied detections
# swap places and classes; a trained net's confident detections do not (the agreements of the
# random test nets: docs/benchmarks.md). Stricter than int8's 0.8: bf16 has no calibration to
# blame.
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
    return agreement_record(dets[0], dets[1], tolerance, what="OpenVINO bf16",
                            reference="OpenVINO f32", images=f"{len(images)} calibration images",
                            flag="bf16_tolerance", advice="lower the tolerance or export "
                            "without bf16")
