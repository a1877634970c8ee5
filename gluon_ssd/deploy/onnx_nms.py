"""The decoder's top-k + per-class NMS as ONNX nodes, appended to the raw (boxes, scores) graph.

:class:`~gluon_ssd.blocks.decoder.SSDDecoder` does, per image: take the ``nms_topk`` best of the
``C * N`` (class, anchor) candidates (class-major), drop those scoring ``<= score_thresh``,
suppress per class a box whose IoU with a kept better box of its class is above ``nms_thresh``,
and return the ``post_nms`` best, padded with -1. ``mx.onnx.export_model`` cannot express this
(it makes ``box_nms`` class-agnostic), so the tail is written here with ``onnx.helper``:

============================  =================================================================
``TopK`` on ``(B, C*N + k)``  the ``k = nms_topk`` candidates; ``k`` columns of -1 appended so
                              that any ``N`` works with a constant ``K`` (as the decoder does)
``Div`` / ``Sub``             class ``i // N`` and anchor ``i - class * N`` of each candidate
``GatherElements``            their decoded boxes ``(B, k, 4)``
``Equal`` / ``Where``         per-class scores ``(B, C, k)``: the candidate's score in its own
                              class row, -1 elsewhere (never above the threshold)
``NonMaxSuppression``         per class by definition (``center_point_box=0``: corners), with
                              ``max_output_boxes_per_class = k``, ``nms_thresh``, ``score_thresh``
``ScatterND``                 kept candidates' scores back into a dense ``(B, k)``, others -1
``TopK`` on ``(B, k)``        the ``post_nms`` best, descending; -1 rows are padding
============================  =================================================================

Every op is in TensorRT's ONNX parser's list (TopK with a constant K, NonMaxSuppression,
ScatterND, GatherElements, GatherND, Where, Equal); the graph has no loop or ``If``.
"""
import numpy as np

__all__ = ["append_nms", "OUTPUT_NAMES"]

OUTPUT_NAMES = ("ids", "scores", "bboxes")


class _Graph:
    """Collects nodes and constant initializers under one name prefix."""

    def __init__(self, helper, numpy_helper, prefix="nms_"):
        self.helper, self.numpy_helper, self.prefix = helper, numpy_helper, prefix
        self.nodes, self.initializers, self.count = [], [], 0

    def const(self, value, dtype):
        name = f"{self.prefix}const{len(self.initializers)}"
        self.initializers.append(self.numpy_helper.from_array(np.asarray(value, dtype), name))
        return name

    def op(self, op_type, inputs, outputs=1, name=None, **attrs):
        self.count += 1
        if isinstance(outputs, int):
            outputs = [f"{self.prefix}{op_type.lower()}{self.count}_{i}" for i in range(outputs)]
        if name is not None:
            outputs = [name]
        self.nodes.append(self.helper.make_node(op_type, list(inputs), outputs,
                                                name=f"{self.prefix}{op_type}{self.count}",
                                                **attrs))
        return outputs[0] if len(outputs) == 1 else outputs

    def filled(self, shape_of, value):
        """A float32 tensor of ``value`` with the shape of ``shape_of``."""
        return self.op("Expand", [self.const([value], np.float32), self.op("Shape", [shape_of])])

    def gather_rows(self, data, index, width):
        """``data[b, index[b, j], :]`` for ``data (B, N, width)`` and ``index (B, J)``."""
        index = self.op("Reshape", [index, self.const([0, 0, 1], np.int64)])  # (B, J, 1)
        batch_rows = self.op("Slice", [self.op("Shape", [index]), self.const([0], np.int64),
                                       self.const([2], np.int64)])
        shape = self.op("Concat", [batch_rows, self.const([width], np.int64)], axis=0)
        return self.op("GatherElements", [data, self.op("Expand", [index, shape])], axis=1)


def _top_candidates(g, boxes, scores, k):
    """The ``k`` best class-major candidates (index ``c * N + n``, the decoder's order).

    Returns ``(top_scores (B, k), cls (B, k) int64, cand_boxes (B, k, 4), batch (1,))``:
    scores, class (``>= C`` for the -1 padding) and box of each pick, and the batch size.
    """
    i64 = np.int64
    flat = g.op("Reshape", [g.op("Transpose", [scores], perm=[0, 2, 1]), g.const([0, -1], i64)])
    batch = g.op("Slice", [g.op("Shape", [flat]), g.const([0], i64), g.const([1], i64)])
    pad = g.op("Expand", [g.const([[-1.0]], np.float32),
                          g.op("Concat", [batch, g.const([k], i64)], axis=0)])
    top_scores, top_index = g.op("TopK", [g.op("Concat", [flat, pad], axis=1),
                                          g.const([k], i64)], outputs=2, axis=1)
    num_anchors = g.op("Slice", [g.op("Shape", [boxes]), g.const([1], i64), g.const([2], i64)])
    cls = g.op("Div", [top_index, num_anchors])  # (B, k) int64; >= C for the padding
    anchor = g.op("Sub", [top_index, g.op("Mul", [cls, num_anchors])])
    return top_scores, cls, g.gather_rows(boxes, anchor, 4), batch


def _per_class_nms(g, cand_boxes, top_scores, cls, num_classes, k, nms_thresh, score_thresh):
    """``(B, k)`` scores of the candidates NMS keeps (per class), -1 for the others."""
    i64 = np.int64
    # Candidate j scores in row cls[j] only: (B, C, k), -1 elsewhere (below any threshold).
    in_class = g.op("Equal", [g.op("Reshape", [cls, g.const([0, 1, -1], i64)]),
                              g.const(np.arange(num_classes).reshape(1, -1, 1), i64)])
    class_scores = g.op("Where", [in_class,
                                  g.op("Reshape", [top_scores, g.const([0, 1, -1], i64)]),
                                  g.const(-1.0, np.float32)])  # (B, C, k)
    selected = g.op("NonMaxSuppression", [
        cand_boxes, class_scores, g.const([k], i64), g.const([nms_thresh], np.float32),
        g.const([score_thresh], np.float32)], center_point_box=0)  # (M, 3): batch, class, j
    batch_cand = g.op("Gather", [selected, g.const([0, 2], i64)], axis=1)  # (M, 2)
    return g.op("ScatterND", [g.filled(top_scores, -1.0), batch_cand,
                              g.op("GatherND", [top_scores, batch_cand])])  # (B, k)


def _best_rows(g, kept, cls, cand_boxes, batch, rows, k, float_type):
    """``[ids (B, rows, 1), scores (B, rows, 1), bboxes (B, rows, 4)]``: the best kept
    candidates, descending; -1 rows are empty (and pad beyond ``k``, as the decoder does)."""
    i64 = np.int64
    best_scores, best = g.op("TopK", [kept, g.const([min(rows, k)], i64)], outputs=2, axis=1)
    valid = g.op("Greater", [best_scores, g.const(-0.5, np.float32)])
    minus_one = g.const(-1.0, np.float32)
    ids = g.op("Where", [valid, g.op("Cast", [g.op("GatherElements", [cls, best], axis=1)],
                                     to=float_type), minus_one])
    bboxes = g.op("Where", [g.op("Reshape", [valid, g.const([0, 0, 1], i64)]),
                            g.gather_rows(cand_boxes, best, 4), minus_one])
    outputs = [g.op("Reshape", [ids, g.const([0, 0, 1], i64)]),
               g.op("Reshape", [best_scores, g.const([0, 0, 1], i64)]), bboxes]
    if rows > k:
        outputs = [g.op("Concat", [o, g.op("Expand", [minus_one, g.op("Concat", [
            batch, g.const([rows - k, width], i64)], axis=0)])], axis=1)
            for o, width in zip(outputs, (1, 1, 4))]
    return outputs


def append_nms(model, num_classes, nms_thresh, nms_topk, post_nms, score_thresh):
    """Replace the raw outputs of ``model`` with the decoder's detections (in place).

    Parameters
    ----------
    model : onnx.ModelProto
        Outputs ``boxes (B, N, 4)`` (``x1, y1, x2, y2`` in input pixels) and ``scores (B, N, C)``
        (foreground probabilities), in that order: :class:`~gluon_ssd.deploy.RawSSD` exported.
    num_classes : int
        ``C``.
    nms_thresh, nms_topk, post_nms, score_thresh :
        The decoder's settings (``net.decoder``); ``nms_topk`` must be positive.

    Returns
    -------
    onnx.ModelProto
        ``model``, whose outputs are now ``ids (B, K, 1)`` (class index as float),
        ``scores (B, K, 1)`` and ``bboxes (B, K, 4)``, descending by score, empty rows -1,
        ``K = post_nms`` (``nms_topk`` when ``post_nms == -1``): the MXNet graph's outputs.
    """
    from onnx import TensorProto, helper, numpy_helper  # optional (the onnx extra)
    if nms_topk <= 0:
        raise ValueError(f"the ONNX graph needs a positive nms_topk (a constant top-k), got "
                         f"{nms_topk}: call net.set_nms(nms_topk=400, ...) before export")
    k = int(nms_topk)
    rows = int(post_nms) if post_nms > 0 else k
    g = _Graph(helper, numpy_helper)
    boxes, scores = (o.name for o in model.graph.output[:2])
    top_scores, cls, cand_boxes, batch = _top_candidates(g, boxes, scores, k)
    kept = _per_class_nms(g, cand_boxes, top_scores, cls, num_classes, k, nms_thresh,
                          score_thresh)
    outputs = _best_rows(g, kept, cls, cand_boxes, batch, rows, k, TensorProto.FLOAT)
    for out, name in zip(outputs, OUTPUT_NAMES):
        g.op("Identity", [out], name=name)

    existing = {n for node in model.graph.node for n in node.output}
    assert not existing & set(OUTPUT_NAMES), "raw graph already uses an output name"
    model.graph.node.extend(g.nodes)
    model.graph.initializer.extend(g.initializers)
    del model.graph.output[:]
    shapes = (["B", rows, 1], ["B", rows, 1], ["B", rows, 4])
    model.graph.output.extend(helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)
                              for name, shape in zip(OUTPUT_NAMES, shapes))
    return model
