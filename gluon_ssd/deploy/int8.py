"""oneDNN int8 quantization of an exported fp32 graph, gated by its agreement with fp32."""
import math
import os
import warnings

import mxnet as mx
import numpy as np

from . import postprocess
from .bundle import import_graph
from .images import load_images, normalize_images
from .postprocess import AGREEMENT_SCORE

__all__ = ["DEFAULT_INT8_TOLERANCE", "CALIB_MODES"]

# Minimum detection agreement (VOC07 mAP of the int8 detections against the fp32 detections
# scoring >= 0.5) below which an int8 export is refused: an int8 graph that loses more than a
# fifth of the fp32 detections is another model. Low enough for the seeded random test nets,
# whose detections are mostly near-ties that quantization reorders (their agreements:
# docs/benchmarks.md); a trained net's confident detections agree far better.
DEFAULT_INT8_TOLERANCE = 0.8
CALIB_MODES = ("naive", "entropy")


def run_batched(net, x, batch):
    """``net`` on ``x`` by chunks of ``batch``: the outputs as numpy, concatenated."""
    chunks = [[o.asnumpy() for o in net(x[i:i + batch])] for i in range(0, len(x), batch)]
    return [np.concatenate(parts) for parts in zip(*chunks)]


def export_int8(tmp_dir, name, fp32_entry, decoder_prefix, calib_images, data_shape, calib_mode,
                 preprocess, mean, std, int8_tolerance, max_calib_images):
    """Quantize the fp32 graph in ``tmp_dir`` with oneDNN; measure it against fp32.

    Returns ``(manifest entry, [file names written in tmp_dir])``; raises ``ValueError`` when the
    agreement is below ``int8_tolerance`` (or cannot be measured and a tolerance is set).
    """
    from mxnet.contrib import quantization
    if not mx.runtime.Features().is_enabled("MKLDNN"):
        raise ValueError("int8 export needs an MXNet build with oneDNN (MKLDNN), CPU")
    pixels = load_images(calib_images, data_shape, limit=max_calib_images)
    calib = pixels if preprocess else normalize_images(pixels, mean, std)
    fp32 = import_graph(tmp_dir, fp32_entry)
    batch = min(8, len(calib))
    calib_iter = mx.io.NDArrayIter(data=calib, batch_size=batch, last_batch_handle="pad",
                                   data_name="data")
    # Quantize the convolutions (the cost); keep in float the decoder (softmax, top-k, NMS) and
    # the concatenations of the heads' outputs, whose ranges differ by layer. Keeping the heads'
    # predictors or the first conv in float too did not raise the agreement (random nets).
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        qnet = quantization.quantize_net_v2(
            fp32, quantized_dtype="auto", quantize_mode="smart", exclude_operators=["Concat"],
            exclude_layers_match=[decoder_prefix], calib_data=calib_iter, calib_mode=calib_mode,
            num_calib_examples=len(calib), ctx=mx.cpu())
    x = mx.nd.array(calib, dtype="uint8" if preprocess else "float32")
    qnet(x[:1])  # export saves the parameters the cached graph was run with
    qnet.export(os.path.join(tmp_dir, f"{name}-int8"), 0)
    entry = {"symbol": f"{name}-int8-symbol.json", "params": f"{name}-int8-0000.params",
             "dtype": "int8", "device": "cpu (oneDNN)", "calib_mode": calib_mode,
             "num_calib_images": int(len(calib))}
    int8 = import_graph(tmp_dir, entry)
    reference, quantized = run_batched(fp32, x, batch), run_batched(int8, x, batch)
    agreement = postprocess.detection_agreement(reference, quantized)
    entry["agreement"] = {
        "map": None if math.isnan(agreement) else agreement,
        "metric": f"VOC07 mAP (IoU 0.5) of int8 detections with fp32 detections scoring >= "
                  f"{AGREEMENT_SCORE} as ground truth, on the calibration images",
        "num_reference_detections": int((reference[1] >= AGREEMENT_SCORE).sum()),
        "min_required": int8_tolerance,
    }
    if int8_tolerance is not None:
        if math.isnan(agreement):
            raise ValueError(f"int8 agreement cannot be measured: the fp32 model has no "
                             f"detection scoring >= {AGREEMENT_SCORE} on the {len(calib)} "
                             f"calibration images; use images with objects, or "
                             f"int8_tolerance=None to export unchecked")
        if agreement < int8_tolerance:
            raise ValueError(f"int8 detections agree with fp32 at mAP {agreement:.3f} < "
                             f"int8_tolerance {int8_tolerance}: refusing the int8 export; try "
                             f"calib_mode='entropy' / more calibration images, or lower the "
                             f"tolerance")
    elif not math.isnan(agreement) and agreement < DEFAULT_INT8_TOLERANCE:
        warnings.warn(f"int8 detections agree with fp32 only at mAP {agreement:.3f}")
    return entry, [entry["symbol"], entry["params"]]
