"""int8 ONNX graph (QDQ), for ONNX Runtime and OpenVINO, gated by its agreement with fp32.

The bundle's whole-detector ONNX graph is quantized after training by ONNX Runtime's
``quantize_static`` in the QDQ format (``QuantizeLinear`` / ``DequantizeLinear`` pairs, the ONNX
standard form that ONNX Runtime, OpenVINO and TensorRT all read as int8), ranges calibrated on
the user's images (``naive``: min/max; ``entropy``: KL-divergence thresholds):

- weights int8 per output channel in a 7-bit range (``reduce_range``): x86 CPUs without VNNI
  (AVX2) add ``u8 x s8`` products in pairs into int16 with saturation, which 7-bit weights cannot
  reach, so the graph detects alike on every x86 CPU (on the random test nets the agreement was
  as high as with 8 bits, or higher); activations uint8 per tensor;
- convolutions, and the ReLU / Clip / max pooling between them (exact on int8 values; left in
  float each would cost a dequantize-quantize pair around it);
- the decoder, the softmax and the NMS tail stay float, as in the oneDNN int8 graph (:mod:`.int8`).

The agreement of each runtime's int8 detections with that runtime's own fp32 detections is
measured at export and recorded; below the tolerance the export refuses. OpenVINO (2026.4) is
checked on static-shape graphs only: on the dynamic graph its CPU plugin miscomputes the anchor
grids (``Range`` over feature-map shapes) once the convolutions are quantized, and inference
stops with a shape mismatch in the box decoder; ``static_shape=True`` folds the anchors to a
constant and OpenVINO runs the int8 graph.
"""
import logging
import os

from .postprocess import agreement_record

__all__ = ["ONNX_CALIB_METHODS", "export_onnx_int8", "int8_file_name"]

LOG = logging.getLogger("gluon_ssd.deploy")
ONNX_CALIB_METHODS = {"naive": "MinMax", "entropy": "Entropy"}
QUANTIZED_OPS = ("Conv", "Relu", "Clip", "MaxPool")
_BATCH = 8  # images per inference while measuring the agreement


def int8_file_name(onnx_file):
    """``'<name>.onnx'`` -> ``'<name>-int8.onnx'`` (``'<name>-static-int8.onnx'`` for static)."""
    assert onnx_file.endswith(".onnx"), onnx_file
    return onnx_file[:-len(".onnx")] + "-int8.onnx"


class _Images:
    """ONNX Runtime's calibration reader over a batch of images, one image per ``get_next``."""

    def __init__(self, input_name, images):
        self.input_name, self.images, self.index = input_name, images, 0

    def get_next(self):
        if self.index >= len(self.images):
            return None
        self.index += 1
        return {self.input_name: self.images[self.index - 1:self.index]}


def quantize_onnx(src, dst, images, input_name, calib_mode):
    """Write the QDQ int8 graph of ``src`` to ``dst``, calibrated on ``images``.

    Parameters
    ----------
    src, dst : str
        fp32 ONNX graph; int8 graph to write.
    images : numpy.ndarray
        The graph's input batch: ``(N, 3, H, W)`` float32 normalized or ``(N, H, W, 3)`` uint8.
    input_name : str
        The graph's input.
    calib_mode : {'naive', 'entropy'}
    """
    try:
        from onnxruntime import quantization as q
    except ImportError:
        raise ValueError("an int8 ONNX graph is made by ONNX Runtime's quantizer: pip install "
                         "'gluon_ssd[runtimes]'") from None
    import onnxruntime
    onnxruntime.set_default_logger_severity(3)  # its calibration sessions' notes on unused nodes
    reader = _Images(input_name, images)
    root = logging.getLogger()  # the quantizer logs advice there ("consider pre-processing")
    was_disabled, root.disabled = root.disabled, True
    try:
        q.quantize_static(
            src, dst, reader, quant_format=q.QuantFormat.QDQ,
            op_types_to_quantize=list(QUANTIZED_OPS), per_channel=True, reduce_range=True,
            activation_type=q.QuantType.QUInt8, weight_type=q.QuantType.QInt8,
            calibrate_method=getattr(q.CalibrationMethod, ONNX_CALIB_METHODS[calib_mode]))
    finally:
        root.disabled = was_disabled


def _detections(session, images):
    import numpy as np
    parts = [session.run(images[i:i + _BATCH]) for i in range(0, len(images), _BATCH)]
    return [np.concatenate(p) for p in zip(*parts)]


def export_onnx_int8(tmp_dir, onnx_entry, images, calib_mode, tolerance):
    """Quantize the bundle's ONNX graph in ``tmp_dir``; measure it in each runtime that runs it.

    Parameters
    ----------
    tmp_dir : str
        Folder holding the fp32 graph ``onnx_entry['file']``; the int8 graph is written there.
    onnx_entry : dict
        The manifest entry of the fp32 ONNX graph (:func:`~.onnx_export.export_onnx`).
    images : numpy.ndarray
        Calibration images as the graph's input batch (they also measure the agreement).
    calib_mode : {'naive', 'entropy'}
    tolerance : float or None
        Minimum agreement of each runtime's int8 with its fp32; None records without refusing.

    Returns
    -------
    (dict, list of str)
        The ``precisions['int8']`` record (``file``, ``format``, ``calib_mode``, and per runtime
        an agreement record) and the file names written.

    Raises
    ------
    ValueError
        An agreement below ``tolerance``, or one that cannot be measured while a tolerance is
        set (the message names the runtime).
    """
    from .runtimes import OnnxRuntimeSession, OpenVINOSession, installed
    src = os.path.join(tmp_dir, onnx_entry["file"])
    fname = int8_file_name(onnx_entry["file"])
    dst = os.path.join(tmp_dir, fname)
    quantize_onnx(src, dst, images, onnx_entry["input"]["name"], calib_mode)
    record = {"file": fname, "format": "QDQ (int8 weights per channel, 7-bit range; uint8 "
                                       "activations)",
              "calib_mode": calib_mode, "num_calib_images": int(len(images))}
    sessions = {"onnxruntime": (OnnxRuntimeSession(src), OnnxRuntimeSession(dst))}
    if not onnx_entry["any_size"] and installed("openvino"):
        sessions["openvino"] = (OpenVINOSession(src, "fp32"), OpenVINOSession(dst, "fp32"))
    for runtime, (fp32, int8) in sessions.items():
        record[runtime] = agreement_record(
            _detections(fp32, images), _detections(int8, images), tolerance,
            what=f"{runtime} int8", reference=f"{runtime} fp32",
            images=f"{len(images)} calibration images", flag="int8_tolerance",
            advice="try calib_mode='entropy' or more calibration images, or lower the "
                   "tolerance")
        LOG.info("int8 ONNX graph in %s: agreement with fp32 %s", runtime,
                 record[runtime]["agreement"])
    return record, [fname]
