"""What :func:`gluon_ssd.deploy.export` is asked to write: :class:`ExportOptions`, validated once.

The options travel as one frozen dataclass through every export step (the MXNet graphs, int8,
ONNX, bf16), each step reading the fields it needs.
"""
import dataclasses
import os
from dataclasses import dataclass, field
from typing import Any, Optional, Tuple

from ..utils.checks import check_data_shape, check_int
from .bf16 import DEFAULT_BF16_TOLERANCE
from .int8 import CALIB_MODES, DEFAULT_INT8_TOLERANCE

__all__ = ["ExportOptions", "DTYPES"]

DTYPES = ("float32", "float16")


@dataclass(frozen=True)
class ExportOptions:
    """The options of an export (:func:`gluon_ssd.deploy.export` takes them as keywords too).

    Attributes
    ----------
    data_shape : (int, int), optional
        ``(H, W)`` of the trace and the checks (default ``net.base_size`` square); the graphs
        take any size.
    name : str, optional
        File name prefix; default ``net.model_name`` (or ``'ssd'``).
    preprocess : bool, default False
        Graph input uint8 ``(B, H, W, 3)`` RGB, normalized in the graph; else ``(B, 3, H, W)``
        ``(x / 255 - mean) / std`` with ``net.mean`` / ``net.std``.
    optimize : bool, default True
        Fold BatchNorm into the convolutions; :func:`load` adds oneDNN fusion on CPU.
    int8 : bool, default False
        Also int8 graphs calibrated on ``calib_images``: oneDNN (MXNet, CPU) and, with ``onnx``,
        the QDQ ONNX graph (ONNX Runtime; OpenVINO for static graphs), see :mod:`.onnx_int8`.
    calib_images : str or sequence of array, optional
        Folder (or glob pattern) or list of ``(H, W, 3)`` uint8 RGB images (resized to
        ``data_shape``, at most ``max_calib_images``); they also measure the int8 and bf16
        agreements.
    calib_mode : {'naive', 'entropy'}
        Activation ranges from min/max or from KL-divergence thresholds.
    int8_tolerance, bf16_tolerance : float or None
        Minimum :func:`detection_agreement` with fp32 on the calibration images (defaults
        ``DEFAULT_INT8_TOLERANCE``, ``DEFAULT_BF16_TOLERANCE``); below it, or when it cannot be
        measured, ``ValueError`` and nothing written. None: recorded, never refused (and
        ``load`` never picks that precision by itself).
    onnx : bool, default False
        Also ``<name>.onnx`` (the ``onnx`` extra): the whole detector, NMS inside, the MXNet
        graph's outputs ``ids (B, K, 1)``, ``scores (B, K, 1)``, ``bboxes (B, K, 4)``.
    ctx : mxnet.Context, optional
        Where to trace and check; default the context of net's parameters.
    dtype : {'float32', 'float16'}
        Weights and input dtype of the main graph (float16: for GPUs).
    max_calib_images : int, default 64
        Calibration images used at most.
    bf16 : bool, default False
        Record OpenVINO bf16's agreement with f32 (``onnx``, OpenVINO, a CPU with bf16 units).
    static_shape : bool, default False
        With ``onnx``: the graph takes ``data_shape`` only (any batch), anchors folded to a
        constant (``<name>-static.onnx``): small models, OpenVINO int8 and static compilation.

    Raises
    ------
    TypeError
        An unknown option, or ``data_shape`` / ``max_calib_images`` not integers.
    ValueError
        A value out of range, or options that do not go together (the message says which).
    """
    data_shape: Optional[Tuple[int, int]] = None
    name: Optional[str] = None
    preprocess: bool = False
    optimize: bool = True
    int8: bool = False
    calib_images: Any = field(default=None, compare=False, repr=False)
    calib_mode: str = "naive"
    int8_tolerance: Optional[float] = DEFAULT_INT8_TOLERANCE
    onnx: bool = False
    ctx: Any = field(default=None, compare=False)
    dtype: str = "float32"
    max_calib_images: int = 64
    bf16: bool = False
    bf16_tolerance: Optional[float] = DEFAULT_BF16_TOLERANCE
    static_shape: bool = False

    def __post_init__(self):
        if self.data_shape is not None:
            object.__setattr__(self, "data_shape", check_data_shape(self.data_shape))
        check_int("max_calib_images", self.max_calib_images, 1)
        if self.name is not None and (not isinstance(self.name, str) or not self.name
                                      or os.sep in self.name or self.name.startswith(".")):
            raise ValueError(f"name must be a plain file name prefix, got {self.name!r}")
        if self.calib_mode not in CALIB_MODES:
            raise ValueError(f"calib_mode must be one of {CALIB_MODES}, got {self.calib_mode!r}")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {DTYPES}, got {self.dtype!r}")
        for flag in ("int8_tolerance", "bf16_tolerance"):
            value = getattr(self, flag)
            if value is not None and not 0 <= value <= 1:
                raise ValueError(f"{flag} is a minimum agreement mAP in [0, 1] (or None), got "
                                 f"{value!r}")
        self._check_combinations()

    def _check_combinations(self):
        if self.int8 and self.calib_images is None:
            raise ValueError("int8=True needs calib_images: a folder or a list of (H, W, 3) "
                             "uint8 RGB images like the ones the model will see")
        if self.int8 and self.dtype != "float32":
            raise ValueError(f"int8 quantization starts from float32, got dtype={self.dtype!r}")
        if self.static_shape and not self.onnx:
            raise ValueError("static_shape=True is an option of the ONNX graph: it needs "
                             "onnx=True")
        if self.bf16 and not self.onnx:
            raise ValueError("bf16=True measures the ONNX graph in OpenVINO: it needs onnx=True")
        if self.bf16 and self.calib_images is None:
            raise ValueError("bf16=True needs calib_images to measure its agreement with fp32")

    def for_net(self, net):
        """These options with the defaults that come from ``net`` filled in (``data_shape``,
        ``name``, ``ctx``); a ``TypeError`` when ``net`` is not a gluon_ssd SSD."""
        if not hasattr(net, "decoder") or not hasattr(net, "config"):
            raise TypeError(f"net must be a gluon_ssd SSD (from gluon_ssd.zoo), got "
                            f"{type(net).__name__}")
        if self.data_shape is None and net.base_size is None:
            raise ValueError("this SSD has no base_size: give data_shape=(height, width)")
        return dataclasses.replace(
            self, data_shape=self.data_shape or (net.base_size,) * 2,
            name=self.name or net.model_name or "ssd",
            ctx=self.ctx or next(iter(net.collect_params().values())).list_ctx()[0])
