"""Random networks whose detections can be compared (not a test module).

A randomly initialised SSD scores every class about alike (1/21 for VOC's 20 classes: Xavier
weights give logits near 0) or, with large random weights, saturates every score to 1.0: either
way its detections tie, and which of the tied candidates fill the top-k list is float noise, so
no comparison of two such detection lists could mean anything. :func:`spread_class_scores`
rescales the class predictors so the scores spread apart and the detections are distinct.
"""
import mxnet as mx
from mxnet import autograd


def spread_class_scores(net, x, std=2.0):
    """Scale each head's class convolution so the inference logits at ``x`` have std ``std``.

    The class convolution is the last, linear layer of the class branch: scaling its weight and
    bias by ``s`` scales the logits by ``s``. Call after the first forward (deferred shapes).

    Parameters
    ----------
    net : gluon_ssd.SSD
    x : NDArray ``(B, 3, H, W)``
        A normalised input batch.
    std : float
        Wanted standard deviation of the class logits (2: softmax scores from ~0.001 to ~0.9).
    """
    with autograd.predict_mode():
        cls_preds = net.predictions(mx.nd, x)[0]
    scale = std / float(cls_preds.asnumpy().std())
    for head in net.heads:
        for param in head.class_conv.collect_params().values():
            param.set_data(param.data() * scale)
    return scale
