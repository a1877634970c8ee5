"""The Triton model repository: config.pbtxt parsed by Triton's own schema (``tritonclient``'s
``model_config.proto`` classes), model.onnx run by ONNX Runtime as Triton feeds it (the config's
input name, dtype and batch dimension, the client's preprocessing read from the config), answers
equal to the bundle's MXNet graph on the detect path's input."""
import importlib.util
import os

import numpy as np
import pytest

ort = pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")
tritonclient = pytest.importorskip("tritonclient")
from google.protobuf import text_format  # noqa: E402

from gluon_ssd import deploy  # noqa: E402
from gluon_ssd.cli.main import main as gluon_ssd  # noqa: E402
from tests.helpers.detections import assert_same_detections  # noqa: E402
from tests.helpers.deploy_fixtures import MODEL, noise_images  # noqa: E402
from tests.helpers.serve_fixtures import export_bundle, normalized_input  # noqa: E402

_ONNX_TYPES = {"TYPE_FP32": onnx.TensorProto.FLOAT, "TYPE_UINT8": onnx.TensorProto.UINT8}


def model_config_pb2():
    """Triton's ModelConfig protobuf classes. ``tritonclient.grpc``'s package refuses to import
    without the grpc extra (grpcio, and protobuf < 7); its schema module needs protobuf only."""
    path = os.path.join(os.path.dirname(tritonclient.__file__), "grpc", "model_config_pb2.py")
    spec = importlib.util.spec_from_file_location("triton_model_config_pb2", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def bundle(tmp_path_factory):
    return export_bundle(str(tmp_path_factory.mktemp("triton_bundle")))


def parse(path):
    pb2 = model_config_pb2()
    with open(path, encoding="utf-8") as f:
        return text_format.Parse(f.read(), pb2.ModelConfig()), pb2


def test_config_parses_with_tritons_schema_and_matches_the_graph(bundle, tmp_path):
    repo = str(tmp_path / "repo")
    folders = deploy.write_model_repository(bundle, repo, backends=("onnxruntime", "openvino"),
                                            max_batch_size=4)
    assert [os.path.basename(f) for f in folders] == [MODEL, f"{MODEL}_openvino"]
    config, pb2 = parse(os.path.join(repo, MODEL, "config.pbtxt"))
    assert (config.name, config.platform, config.max_batch_size) == (MODEL, "onnxruntime_onnx", 4)
    assert config.dynamic_batching.max_queue_delay_microseconds == 5000
    assert config.instance_group[0].kind == pb2.ModelInstanceGroup.KIND_CPU
    (data,) = config.input
    assert (data.name, list(data.dims)) == ("data", [3, -1, -1])
    assert data.data_type == pb2.TYPE_FP32 and data.format == pb2.ModelInput.FORMAT_NCHW
    # Outputs: post_nms = 100 rows (the bundle's manifest), batch dimension left out.
    assert [(o.name, list(o.dims)) for o in config.output] == [
        ("ids", [100, 1]), ("scores", [100, 1]), ("bboxes", [100, 4])]
    # What Triton checks at load: the graph's input / outputs have these names, types, ranks.
    graph = onnx.load(os.path.join(repo, MODEL, "1", "model.onnx")).graph
    for declared, real in zip(list(config.input) + list(config.output),
                              list(graph.input) + list(graph.output)):
        assert declared.name == real.name
        assert _ONNX_TYPES[pb2.DataType.Name(declared.data_type)] == real.type.tensor_type.elem_type
        real_dims = [d.dim_value or -1 for d in real.type.tensor_type.shape.dim][1:]
        assert real_dims == list(declared.dims)
    openvino, _ = parse(os.path.join(repo, f"{MODEL}_openvino", "config.pbtxt"))
    assert (openvino.backend, openvino.default_model_filename) == ("openvino", "model.onnx")
    readme = open(os.path.join(repo, "README.md"), encoding="utf-8").read()
    assert "tritonserver --model-repository" in readme and "(x - mean) / std" in readme


def test_model_onnx_fed_as_triton_would_detects_like_the_bundle(bundle, tmp_path):
    repo = str(tmp_path / "repo")
    deploy.write_model_repository(bundle, repo)
    config, _ = parse(os.path.join(repo, MODEL, "config.pbtxt"))
    params = {k: v.string_value for k, v in config.parameters.items()}
    height, width = (int(v) for v in params["input_size"].split(","))
    mean = np.array([float(v) for v in params["mean"].split(",")], np.float32)
    std = np.array([float(v) for v in params["std"].split(",")], np.float32)
    assert params["classes"] == "cat,dog,car"
    # Images at input_size: the client's resize is the identity, the rest as the config says.
    images = noise_images(7, 2, size=(height, width))
    batch = ((images / 255.0 - mean) / std).transpose(0, 3, 1, 2).astype(np.float32)
    session = ort.InferenceSession(os.path.join(repo, MODEL, "1", "model.onnx"),
                                   providers=["CPUExecutionProvider"])
    got = session.run([o.name for o in config.output], {config.input[0].name: batch})
    for out, declared in zip(got, config.output):
        assert out.shape == (2,) + tuple(declared.dims)
    # The bundle's MXNet graph on the detect path's input (ValTransform) of the same images.
    mxnet = deploy.load(bundle, runtime="mxnet")
    spec = mxnet.manifest["input"]
    reference = np.stack([normalized_input(im, (height, width), spec["mean"], spec["std"])
                          for im in images])
    assert_same_detections(mxnet(reference), got, score_atol=1e-4, box_atol=0.02)


def test_export_command_writes_the_repository(tmp_path):
    out, repo = str(tmp_path / "bundle"), str(tmp_path / "triton")
    code = gluon_ssd(["export", "--model", MODEL, "--classes", "a,b", "--data-shape", "128",
                      "128", "--out", out, "--onnx", "--triton-repo", repo,
                      "--triton-max-batch", "2"])
    assert code == 0
    config, _ = parse(os.path.join(repo, MODEL, "config.pbtxt"))
    assert config.max_batch_size == 2 and config.parameters["classes"].string_value == "a,b"
    assert os.path.getsize(os.path.join(repo, MODEL, "1", "model.onnx")) > 0


def test_refusals(bundle, tmp_path, capsys):
    assert gluon_ssd(["export", "--model", MODEL, "--data-shape", "128", "128", "--out",
                      str(tmp_path / "b"), "--triton-repo", str(tmp_path / "t")]) == 2
    assert "--triton-repo serves the ONNX graph: add --onnx" in capsys.readouterr().err
    with pytest.raises(ValueError, match="has no int8 ONNX graph"):
        deploy.write_model_repository(bundle, str(tmp_path / "r"), precision="int8")
    with pytest.raises(ValueError, match=r"backends must be among \('onnxruntime', 'openvino'\)"):
        deploy.write_model_repository(bundle, str(tmp_path / "r"), backends=("tensorrt",))
    with pytest.raises(ValueError, match="model name 'a b'"):
        deploy.write_model_repository(bundle, str(tmp_path / "r"), name="a b")
