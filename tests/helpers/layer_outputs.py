"""An SSD's declared LayerSpecs against what its layers really output (tests/model/test_ssd.py
and the every-model test of tests/test_zoo.py). Not a test module."""
def real_layer_outputs(net, x):
    """Per prediction layer ``(map shape (C, H, W), cls shape, box shape)`` for the batch ``x``,
    run imperatively: the backbone taps, each extra on the previous map, each head on its map."""
    maps = list(net.features(x))
    for extra in net.extras:
        maps.append(extra(maps[-1]))
    out = []
    for feat, head in zip(maps, net.heads):
        cls, box = head(feat)
        out.append((feat.shape[1:], cls.shape, box.shape))
    return out


def assert_layer_specs_match(net, x):
    """Check every LayerSpec's channels, anchors per location and stride at ``x`` (B, 3, H, W).

    Channels: the map's. Anchors per location: the head's rows per map cell (class and box).
    Stride ``s``: a layer's map side grows by exactly 1 per ``s`` input pixels (``f(n + s) =
    f(n) + 1`` for convolutions and poolings of total stride ``s``, whatever their padding), so
    at a non-square input whose sides differ by ``d = W - H`` the map's sides differ by
    ``floor(d / s)`` or, when ``s`` does not divide ``d``, one more. Use ``H != W``.

    Returns
    -------
    list
        :func:`real_layer_outputs` of ``x``.
    """
    batch, _, height, width = x.shape
    assert height != width, "a square input cannot tell height from width"
    real = real_layer_outputs(net, x)
    assert len(real) == len(net.layers)
    classes = net.num_classes + 1  # background included
    d = width - height
    for k, (spec, ((c, h, w), cls_shape, box_shape)) in enumerate(zip(net.layers, real)):
        assert c == spec.channels, (k, spec, c)
        assert cls_shape == (batch, h * w * spec.num_anchors, classes), (k, spec, cls_shape)
        assert box_shape == (batch, h * w * spec.num_anchors, 4), (k, spec, box_shape)
        low = d // spec.stride
        assert low <= w - h <= low + (d % spec.stride != 0), (k, spec, (h, w), (height, width))
    return real
