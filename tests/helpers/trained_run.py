"""A tiny training run for the command-line tests (not a test module): a synthetic VOC folder and a
mobilenet0.25 SSD trained on it for one epoch at 128 px. tests/cli/conftest.py builds it once per
session (fixture ``run``)."""
from gluon_ssd import zoo
from gluon_ssd.data import VOCDataset, generate_voc, synthetic
from gluon_ssd.training import TrainConfig, fit

MODEL = "ssd_300_mobilenet0.25_voc"
SHAPE = (128, 128)
CLASSES = synthetic.CLASSES
PNG = b"\x89PNG\r\n\x1a\n"


def train_run(root):
    """Write ``root/data`` (16 train, 6 val images) and ``root/run``; return (data, run) paths."""
    data = root / "data"
    generate_voc(str(data), num_train=16, num_val=6, image_size=SHAPE, seed=0, progress=False)
    net = zoo.get_model(MODEL, pretrained_base=False, classes=CLASSES)
    config = TrainConfig(epochs=1, batch_size=8, lr=1e-3, data_shape=SHAPE, seed=0)
    fit(net, VOCDataset(str(data), CLASSES, "train"), config, str(root / "run"), progress=False,
        log=lambda *a: None)
    return data, root / "run"
