"""gluon_ssd.benchmark.variants: one row per variant, the export options they need, the makers,
what is skipped and why."""
import dataclasses

import gluoncv
import mxnet as mx
import numpy as np
import pytest

from tests.helpers.runtimes import require

from gluon_ssd import zoo
from gluon_ssd.benchmark import variants
from gluon_ssd.benchmark.flops import count_flops
from gluon_ssd.benchmark.variants import (DEPLOYED, LABELS, TABLE, VARIANTS, Variant,
                                          bundle_options, net_maker, onnx_file_maker,
                                          prepare_model)

MODEL = "ssd_300_mobilenet0.25_voc"


class Progress:
    def update(self, k):
        pass

    def set_postfix_str(self, text):
        pass


def test_the_table():
    assert VARIANTS == ("gluoncv", "ours", "exported", "int8", "onnx", "onnx_static", "openvino",
                        "openvino_bf16", "openvino_static", "onnx_int8", "onnx_static_int8",
                        "openvino_int8")
    assert DEPLOYED == VARIANTS[2:]
    assert LABELS["openvino_static"] == "OV f32 static"
    assert all(len(v.label) <= 14 for v in TABLE)  # the table's column
    assert {v.source for v in TABLE} <= set(variants.NETS) | set(variants.SOURCES)


def test_the_bundle_is_exported_with_what_its_variants_need():
    assert bundle_options(["exported", "onnx_static"]) == {}
    assert bundle_options(["int8", "openvino_bf16"]) == {"int8": True, "onnx": True}
    # The static bundle is a source of its own: what its variants need goes to its export only.
    assert bundle_options(["onnx_static", "openvino_int8"]) == {}
    assert bundle_options(["onnx_static", "openvino_int8"], "static") == {"int8": True}


def test_calibration_images_are_seeded_shape_images():
    a, b = variants.calibration_images(32, 2), variants.calibration_images(32, 2)
    assert len(a) == 2 and a[0].shape == (32, 32, 3) and a[0].dtype == np.uint8
    assert all(np.array_equal(x, y) for x, y in zip(a, b))


def test_a_variant_that_cannot_run_here_is_skipped_with_its_reason(monkeypatch, clock):
    never = Variant("never", "never", "ours", "mxnet", make=net_maker, requires=lambda: "no")
    monkeypatch.setattr(variants, "TABLE", TABLE + (never,))
    monkeypatch.setattr(variants, "_BY_NAME", {v.name: v for v in variants.TABLE})
    info, makers = prepare_model(MODEL, ["never", "ours"], 1, None, mx.cpu(), Progress())
    assert info["skipped"] == {"never": "no"} and list(makers) == ["ours"]
    assert "export_s" not in info and "gluoncv_params" not in info  # nothing exported or built
    assert info["size"] == 300
    # The same architecture as GluonCV's model of that name: its graph has the same FLOPs.
    gluoncv_net = gluoncv.model_zoo.get_model(MODEL, pretrained=False, pretrained_base=False)
    gluoncv_net.initialize()
    assert info["flops_per_image"] == count_flops(gluoncv_net, 300)
    net = zoo.get_model(MODEL, pretrained_base=False)
    net.initialize()
    net(mx.nd.zeros((1, 3, 300, 300)))
    assert info["ours_params"] == sum(p.data().size for p in net.collect_params().values()
                                      if p.grad_req != "null")
    x = mx.nd.zeros((1, 3, 300, 300))
    assert makers["ours"]((x, x.asnumpy()))() == 0.25  # one call between two clock readings


def _identity_onnx(path):
    onnx = require("onnx")
    from onnx import TensorProto, helper
    graph = helper.make_graph(
        [helper.make_node("Identity", ["data"], ["out"])], "identity",
        [helper.make_tensor_value_info("data", TensorProto.FLOAT, ["N", 3, "H", "W"])],
        [helper.make_tensor_value_info("out", TensorProto.FLOAT, ["N", 3, "H", "W"])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


@pytest.mark.onnx
@pytest.mark.parametrize("runtime,per_shape", [("onnxruntime", False), ("openvino", False),
                                               ("openvino", True)])


def test_onnx_file_maker_runs_the_file(tmp_path, runtime, per_shape, clock):
    require(runtime)
    variant = Variant("file", "file", "file", runtime, make=onnx_file_maker, per_shape=per_shape)
    maker = onnx_file_maker(variant, {"onnx": _identity_onnx(tmp_path / "id.onnx")}, mx.cpu())
    for shape in ((1, 3, 8, 8), (2, 3, 16, 8)):
        x = np.ones(shape, np.float32)
        assert maker((None, x))() == 0.25  # one call between two clock readings


def test_per_shape_is_openvino_only():
    variant = Variant("file", "file", "file", "onnxruntime", per_shape=True)
    with pytest.raises(ValueError, match="per_shape"):
        onnx_file_maker(variant, {"onnx": "x.onnx"}, mx.cpu())
    assert dataclasses.replace(variant, source="ours").deployed is False
