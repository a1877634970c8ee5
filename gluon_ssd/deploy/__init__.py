"""Export an SSD for deployment, and run it back in MXNet, ONNX Runtime or OpenVINO.

A *bundle* is one folder::

    <name>-symbol.json, <name>-0000.params            fp32 (or fp16) inference graph and weights
    <name>-int8-symbol.json, <name>-int8-0000.params  optional, oneDNN int8 graph (CPU only)
    <name>.onnx                                       optional, the whole detector (NMS inside)
    <name>-int8.onnx                                  optional, its int8 (QDQ) form
    manifest.json                                     written last: what the files are, their
                                                      sha256, the int8 / bf16 agreement records

Every graph is the *inference* graph (box decoding + per-class NMS), whatever mode the source
net last ran in, with the same outputs ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K,
4)`` (corners in input pixels, -1 padded, ``K = post_nms``). They run without this package::

    net = mx.gluon.SymbolBlock.imports("<name>-symbol.json", ["data"], "<name>-0000.params")
    ids, scores, bboxes = net(x)   # x: (B, 3, H, W) normalized RGB, any H, W

    sess = onnxruntime.InferenceSession("<name>.onnx")     # or openvino.Core().read_model(...)
    ids, scores, bboxes = sess.run(None, {"data": x})

Anchors are built in the graph from the feature maps' shapes, so one bundle serves every input
size. With ``preprocess=True`` the graph takes ``(B, H, W, 3)`` uint8 RGB pixels instead and does
the cast, ``/ 255``, ``(x - mean) / std`` and the NHWC -> NCHW transpose itself.

:func:`load` runs a bundle in any runtime behind one call (:class:`Detector`); ``auto`` picks the
fastest runtime and precision installed, supported by this CPU and verified by the bundle.

Modules, by role: :mod:`.bundle` (manifest, checks), :mod:`.export`, :mod:`.graph` (tracing,
preprocessing, BatchNorm folding, casts), :mod:`.onnx_export`, :mod:`.onnx_nms` and
:mod:`.onnx_int8` (the ONNX graph, its NMS tail, its int8 form), :mod:`.runtimes` (sessions), :mod:`.cpu` (ISA), :mod:`.int8`,
:mod:`.bf16`, :mod:`.postprocess` (numpy reference NMS, agreement), :mod:`.images`,
:mod:`.loader` (:func:`load`, :class:`Detector`), :mod:`.triton` (a Triton Inference Server model
repository from the ONNX graph: :func:`write_model_repository`).
"""
from .bf16 import DEFAULT_BF16_TOLERANCE
from .bundle import MANIFEST, read_manifest, verify_bundle
from .cpu import cpu_isa, has_bf16, isa_summary
from .export import DTYPES, export
from .graph import RawSSD, fold_batchnorm
from .images import load_images, normalize_images
from .int8 import CALIB_MODES, DEFAULT_INT8_TOLERANCE
from .loader import PRECISIONS, Detector, available, load
from .postprocess import AGREEMENT_SCORE, detection_agreement, postprocess_numpy
from .runtimes import RUNTIMES, installed_runtimes
from .triton import TRITON_BACKENDS, write_model_repository

__all__ = ["export", "load", "Detector", "RawSSD", "postprocess_numpy", "detection_agreement",
           "fold_batchnorm", "load_images", "normalize_images", "verify_bundle",
           "read_manifest", "available", "cpu_isa", "has_bf16", "isa_summary", "MANIFEST",
           "DEFAULT_INT8_TOLERANCE", "DEFAULT_BF16_TOLERANCE", "CALIB_MODES", "DTYPES",
           "RUNTIMES", "PRECISIONS", "AGREEMENT_SCORE", "installed_runtimes",
           "write_model_repository", "TRITON_BACKENDS"]
