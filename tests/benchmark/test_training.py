"""gluon_ssd.benchmark.training: the synthetic pipeline and our training step (GluonCV's step is
run by tests/cli/test_bench.py's --quick run)."""
import mxnet as mx
import numpy as np

from gluon_ssd import zoo
from gluon_ssd.benchmark.training import bench_pipeline, make_pipeline_data, ours_train_step

MODEL = "ssd_300_mobilenet0.25_voc"


def test_pipeline_batches_and_our_step(tmp_path, clock):
    dataset = make_pipeline_data(str(tmp_path / "voc"), 3)
    assert len(dataset) == 3
    config, _ = zoo.get_config(MODEL)
    ips, (data, label) = bench_pipeline(dataset, 128, config.mean, config.std, 2)
    # Two passes over the 3 images, each timed between two readings of the clock (0.25 s):
    # 3 images / 0.25 s = 12 images/s.
    assert ips == 12.0 and clock.calls == 4
    assert data.shape == (2, 3, 128, 128) and label.shape[0] == 2
    step, net = ours_train_step(MODEL, mx.cpu(), (data, label))
    step()  # the first forward initialises the (deferred) parameters
    param = next(p for p in net.collect_params().values() if p.grad_req != "null")
    weight = param.data().asnumpy().copy()
    step()
    mx.nd.waitall()
    assert not np.array_equal(weight, param.data().asnumpy())  # an SGD update
