"""A Triton Inference Server model repository from a bundle's ONNX graph.

:func:`write_model_repository` writes, for Triton's ONNX Runtime backend (and its OpenVINO
backend where asked)::

    DIR/README.md                 what the client must do before and after (preprocessing, boxes)
    DIR/<name>/config.pbtxt       platform, max_batch_size, inputs / outputs, dynamic_batching,
                                  instance_group, the preprocessing as parameters
    DIR/<name>/1/model.onnx       the bundle's ONNX graph (NMS inside), unchanged
    DIR/<name>_openvino/...       the same graph for backend "openvino" (default_model_filename)

``max_batch_size > 0``, so every ``dims`` leaves out the batch dimension: input ``data`` is
``[3, -1, -1]`` float32 NCHW (``[-1, -1, 3]`` uint8 NHWC for a ``preprocess`` bundle; the export
size for a static-shape graph), outputs ``ids [K, 1]``, ``scores [K, 1]``, ``bboxes [K, 4]``
float32 (``K`` = the bundle's ``post_nms``). The schema is Triton's ``model_config.proto``.
"""
import os
import re
import shutil

from ..utils.checks import check_int
from ..utils.fileio import atomic_write
from .bundle import bundle_path, verify_bundle

__all__ = ["write_model_repository", "TRITON_BACKENDS"]

TRITON_BACKENDS = ("onnxruntime", "openvino")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def write_model_repository(bundle_dir, repo_dir, name=None, backends=("onnxruntime",),
                           precision="fp32", max_batch_size=8, max_queue_delay_us=5000,
                           instances=1):
    """Write a Triton model repository serving the ONNX graph of ``bundle_dir``.

    Parameters
    ----------
    bundle_dir : str
        A bundle exported with ``onnx=True`` (checked against its manifest first).
    repo_dir : str
        The repository folder (created; other models in it are left alone).
    name : str, optional
        Model name (default the bundle's); the OpenVINO variant is ``<name>_openvino``.
    backends : sequence of {'onnxruntime', 'openvino'}
    precision : {'fp32', 'int8'}
        ``'int8'`` serves the bundle's int8 (QDQ) ONNX graph.
    max_batch_size : int, default 8
    max_queue_delay_us : int, default 5000
        Triton's dynamic batcher waits at most this long for a batch to fill.
    instances : int, default 1
        CPU model instances.

    Returns
    -------
    list of str
        The model folders written.

    Raises
    ------
    ValueError
        No ONNX graph (or no int8 one) in the bundle, an unknown backend, a bad name.
    """
    manifest = verify_bundle(bundle_dir)
    onnx = manifest["variants"].get("onnx")
    if onnx is None:
        raise ValueError(f"bundle {bundle_dir!r} has no ONNX graph; Triton needs one: export "
                         f"with onnx=True (gluon-ssd export --onnx)")
    if precision not in ("fp32", "int8"):
        raise ValueError(f"precision must be 'fp32' or 'int8', got {precision!r}")
    if precision == "int8" and "int8" not in onnx.get("precisions", {}):
        raise ValueError(f"bundle {bundle_dir!r} has no int8 ONNX graph: export with --int8 "
                         f"--onnx, or use precision='fp32'")
    unknown = [b for b in backends if b not in TRITON_BACKENDS]
    if unknown or not backends:
        raise ValueError(f"backends must be among {TRITON_BACKENDS}, got {list(backends)}")
    name = name or manifest["name"]
    if not _NAME.match(name):
        raise ValueError(f"model name {name!r}: use letters, digits, '_', '.', '-'")
    check_int("max_batch_size", max_batch_size, 1)
    check_int("max_queue_delay_us", max_queue_delay_us, 0)
    check_int("instances", instances, 1)
    graph = onnx["precisions"]["int8"]["file"] if precision == "int8" else onnx["file"]
    source = bundle_path(bundle_dir, graph)
    written = []
    for backend in backends:
        model = name if backend == "onnxruntime" else f"{name}_openvino"
        folder = os.path.join(repo_dir, model)
        os.makedirs(os.path.join(folder, "1"), exist_ok=True)
        atomic_write(os.path.join(folder, "1", "model.onnx"),
                     lambda tmp: shutil.copyfile(source, tmp))
        text = model_config(manifest, model, backend, max_batch_size, max_queue_delay_us,
                            instances)
        _write_text(os.path.join(folder, "config.pbtxt"), text)
        written.append(folder)
    _write_text(os.path.join(repo_dir, "README.md"),
                readme(manifest, [os.path.basename(f) for f in written], bundle_dir, precision))
    return written


def _write_text(path, text):
    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
    atomic_write(path, write)


def _input_dims(manifest):
    """``(data_type, format, dims)`` of input ``data`` without the batch dimension."""
    spec = manifest["input"]
    shape = manifest["variants"]["onnx"]["input"]["shape"]  # e.g. ["B", 3, "H", "W"]
    dims = [v if isinstance(v, int) else -1 for v in shape[1:]]
    if spec["preprocess"]:
        return "TYPE_UINT8", "FORMAT_NHWC", dims
    return "TYPE_FP32", "FORMAT_NCHW", dims


def preprocessing(manifest):
    """``{key: text}``: what a client does before and after, as config parameters."""
    spec = manifest["input"]
    height, width = (spec["shape"][1:3] if spec["preprocess"] else spec["shape"][2:4])
    steps = ("RGB uint8 (H, W, 3) -> resize to input_size (bilinear) -> batch as (B, H, W, 3) "
             "uint8; the graph normalises" if spec["preprocess"] else
             "RGB uint8 (H, W, 3) -> resize to input_size (bilinear) -> x / 255 -> "
             "(x - mean) / std -> transpose to (3, H, W) float32 -> batch as (B, 3, H, W)")
    return {"classes": ",".join(manifest["classes"]), "input_size": f"{height},{width}",
            "mean": ",".join(str(v) for v in spec["mean"]),
            "std": ",".join(str(v) for v in spec["std"]),
            "preprocessing": steps,
            "outputs": "ids: class index (float, -1 = empty row); scores: descending; bboxes: "
                       "x1,y1,x2,y2 in input_size pixels: multiply x by image_width / "
                       "input_width and y by image_height / input_height for original pixels"}


def model_config(manifest, model, backend, max_batch_size, max_queue_delay_us, instances):
    """The text of ``config.pbtxt`` (protobuf text format of Triton's ``ModelConfig``)."""
    data_type, layout, dims = _input_dims(manifest)
    rows = manifest["nms"]["post_nms"]
    lines = [f'name: "{model}"']
    lines += (['platform: "onnxruntime_onnx"'] if backend == "onnxruntime" else
              ['backend: "openvino"', 'default_model_filename: "model.onnx"'])
    lines += [f"max_batch_size: {max_batch_size}", "input [",
              f'  {{ name: "data" data_type: {data_type} format: {layout} '
              f'dims: [ {", ".join(str(d) for d in dims)} ] }}', "]", "output ["]
    outputs = [f'  {{ name: "{out}" data_type: TYPE_FP32 dims: [ {rows}, {width} ] }}'
               for out, width in (("ids", 1), ("scores", 1), ("bboxes", 4))]
    lines += [",\n".join(outputs), "]",
              f"dynamic_batching {{ max_queue_delay_microseconds: {max_queue_delay_us} }}",
              f"instance_group [ {{ count: {instances} kind: KIND_CPU }} ]", "parameters ["]
    params = [f'  {{ key: "{key}" value: {{ string_value: "{_quote(value)}" }} }}'
              for key, value in preprocessing(manifest).items()]
    lines += [",\n".join(params), "]"]
    return "\n".join(lines) + "\n"


def _quote(text):
    return text.replace("\\", "\\\\").replace('"', '\\"')


def readme(manifest, models, bundle_dir, precision):
    """The repository's README.md: models, how to start Triton, what the client does."""
    params = preprocessing(manifest)
    data_type, layout, dims = _input_dims(manifest)
    return "\n".join([
        f"# Triton model repository: {manifest['name']}",
        "",
        f"Written by gluon_ssd from the bundle `{os.path.abspath(bundle_dir)}` ({precision} "
        f"ONNX graph, per-class NMS inside). Models: {', '.join(f'`{m}`' for m in models)} "
        f"(`_openvino`: Triton's OpenVINO backend).",
        "",
        "    docker run --rm -p8000:8000 -p8001:8001 -v $PWD:/models "
        "nvcr.io/nvidia/tritonserver:<xx.yy>-py3 tritonserver --model-repository=/models",
        "",
        "## Input `data`",
        "",
        f"{data_type} {layout}, dims {dims} per image (batch first, up to max_batch_size). "
        f"Preprocessing, done by the client: {params['preprocessing']}.",
        f"input_size (H, W) = ({params['input_size']}), mean = ({params['mean']}), "
        f"std = ({params['std']}).",
        "",
        "## Outputs",
        "",
        f"{params['outputs']}. Classes (index order): {params['classes']}.",
        "The same values are in each config.pbtxt's `parameters`.",
        ""])
