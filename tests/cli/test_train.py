"""Tests for gluon_ssd.cli.train (``scripts/train.py``) on real data: a tiny COCO file, several VOC
roots, --config, --init-from."""
import json

import mxnet as mx
import numpy as np
import pytest

from tests.helpers.cli import flags_without_help, help_text, run_script
from tests.helpers.coco_fixtures import write_coco

from gluon_ssd import SSDConfig
from gluon_ssd.cli import train as train_command
from gluon_ssd.data import VOC_CLASSES, generate_voc
from gluon_ssd.utils.fileio import file_digest

MODEL = "ssd_300_mobilenet0.25_voc"
# No --warmup-epochs: the default warm-up fits a 1-epoch run (a tenth of it).
TINY = ["--model", MODEL, "--no-pretrained-base", "--data-shape", "64", "64", "--epochs", "1",
        "--batch-size", "2", "--lr-schedule", "cosine"]


def _script(*args, timeout=300):
    return run_script("train.py", *args, timeout=timeout)


def _module():
    """The train command's module, to call its functions in this process."""
    return train_command


def test_train_on_a_tiny_coco_file_validates_by_coco_ap_and_keeps_the_best(tmp_path):
    ann, images = write_coco(str(tmp_path / "coco"))
    done = _script(*TINY, "--coco-annotations", ann, "--coco-images", images,
                   "--val-coco-annotations", ann, "--out", tmp_path / "run")
    assert done.returncode == 0, done.stderr
    record = json.loads((tmp_path / "run" / "latest.json").read_text())
    # Classes default to the file's categories by id: dog (3), cat (17).
    assert record["classes"] == ["dog", "cat"]
    assert record["config"]["val_metric"] == "coco" and record["config"]["data_shape"] == [64, 64]
    # The SSD recipe's defaults where not overridden: SGD, momentum 0.9, wd 5e-4, ssd augment.
    assert (record["config"]["optimizer"], record["config"]["momentum"], record["config"]["wd"],
            record["config"]["augment"]) == ("sgd", 0.9, 5e-4, "ssd")
    best = json.loads((tmp_path / "run" / "best.json").read_text())
    assert best["metric"] == "val_coco_map" and best["epoch"] == 0
    assert best["score"] == record["history"][0]["val_coco_map"]
    assert best["params_sha256"] == file_digest(str(tmp_path / "run" / "best.params"))
    assert "4 training images, 4 validation images" in done.stdout   # the empty image is kept
    assert record["config"]["warmup_epochs"] == 0.1                   # min(1, 1 epoch / 10)
    # Not a terminal: no progress bar debris, one log line per epoch.
    assert "\r" not in done.stdout + done.stderr
    assert [line for line in done.stdout.splitlines() if line.startswith("epoch ")] == \
        [line for line in done.stdout.splitlines() if line.startswith("epoch 1, lr")]
    assert sum(line.startswith("epoch 1, lr") for line in done.stdout.splitlines()) == 1


def test_every_flag_has_help_and_defaults_are_shown():
    text = help_text(_module().main)
    assert flags_without_help(text) == []
    assert "(default: 0.0005)" in text and "(default: sgd)" in text and "(default: ssd)" in text


def test_config_file_then_flags_override(tmp_path):
    module = _module()
    (tmp_path / "c.json").write_text(json.dumps({"train": {"batch_size": 4, "lr": 0.02,
                                                           "augment": "flip"}}))
    (tmp_path / "c.yaml").write_text("train:\n  batch_size: 4\n  lr: 0.02\n  augment: flip\n")
    base = ["--model", MODEL, "--data-root", str(tmp_path), "--out", str(tmp_path / "o")]
    for name in ("c.json", "c.yaml"):
        _, args, ssd = module.parse_arguments(base + ["--config", str(tmp_path / name),
                                                      "--batch-size", "8"])
        # From the file: lr, augment; the flag wins for batch_size; the rest: defaults.
        assert (args.batch_size, args.lr, args.augment, args.optimizer) == (8, 0.02, "flip", "sgd")
        assert ssd is None
    (tmp_path / "bad.json").write_text(json.dumps({"train": {"batchsize": 4}}))
    with pytest.raises(ValueError, match=r"--config .*bad\.json: unknown train keys \['batchsize'\]"):
        module.parse_arguments(base + ["--config", str(tmp_path / "bad.json")])


def test_config_ssd_section_builds_the_network(tmp_path, monkeypatch):
    module = _module()
    generate_voc(str(tmp_path / "voc"), 2, 1, image_size=(64, 64), seed=0, progress=False)
    ssd = {"backbone": "vgg11", "base_size": 64, "from_layers": [16, 32, ""],
           "num_filters": [-1, -1, 64], "strides": [-1, -1, 2], "pads": [-1, -1, 1],
           "sizes": [16, 32, 48, 64], "ratios": [[1, 2, 0.5]] * 3, "extra_bn": False}
    (tmp_path / "c.json").write_text(json.dumps({"ssd": ssd, "train": {"epochs": 3}}))
    seen = {}
    monkeypatch.setattr(module, "fit", lambda net, train, config, out, **kwargs:
                        seen.update(net=net, config=config) or [])
    assert module.main(["--config", str(tmp_path / "c.json"), "--data-root",
                        str(tmp_path / "voc"), "--no-pretrained-base",
                        "--out", str(tmp_path / "o")]) == 0
    net = seen["net"]
    assert net.config == SSDConfig.from_dict(ssd) and seen["config"].epochs == 3
    assert net.classes == ("circle", "square", "triangle")  # found in the annotations


def test_several_voc_roots_classes_from_the_annotations_and_init_from(tmp_path, monkeypatch,
                                                                     capsys):
    module = _module()
    for name, seed in (("a", 0), ("b", 1)):
        generate_voc(str(tmp_path / name), 4, 2, image_size=(64, 64), seed=seed, progress=False)
    seen = {}

    def fake_fit(net, train, config, out, val_dataset=None, **kwargs):
        seen.update(net=net, train=train, config=config, val=val_dataset)
        return []

    monkeypatch.setattr(module, "fit", fake_fit)
    argv = TINY + ["--data-root", tmp_path / "a", tmp_path / "b", "--out", tmp_path / "r"]
    assert module.main([str(a) for a in argv]) == 0
    # 4 + 4 training images from the two roots; validation on the first root's 'val' (2 images).
    assert len(seen["train"]) == 8 and len(seen["val"]) == 2
    assert seen["train"].classes == ("circle", "square", "triangle")      # sorted, from the XML
    # --init-from: the network starts from the file's weights.
    net = seen["net"]
    net.initialize(mx.init.Normal(0.5))
    net(mx.nd.zeros((1, 3, 64, 64)))
    net.save_parameters(str(tmp_path / "w.params"))
    assert module.main([str(a) for a in argv + ["--init-from", tmp_path / "w.params"]]) == 0
    saved = mx.nd.load(str(tmp_path / "w.params"))
    loaded = {k: v.data().asnumpy() for k, v in seen["net"]._collect_params_with_prefix().items()}
    assert saved.keys() == loaded.keys()
    for k in saved:
        np.testing.assert_array_equal(loaded[k], saved[k].asnumpy(), err_msg=k)
    # Weights that do not fit (here: one class predictor's weight with a class too few) are
    # refused, naming the file.
    key = next(k for k in saved if "heads.0.cls_pred" in k and k.endswith("weight"))
    saved[key] = saved[key][:-1]
    mx.nd.save(str(tmp_path / "other.params"), saved)
    with pytest.raises(ValueError, match=r"other\.params does not fit this model.*heads\.0\.cls_pred"):
        module.main([str(a) for a in argv + ["--init-from", tmp_path / "other.params"]])


def test_voc_classes_are_alphabetical_so_found_names_keep_their_order():
    assert list(VOC_CLASSES) == sorted(VOC_CLASSES)


def test_coco_class_subset_and_inconsistent_flags(tmp_path, monkeypatch, capsys):
    module = _module()
    ann, images = write_coco(str(tmp_path / "coco"))
    seen = {}
    monkeypatch.setattr(module, "fit", lambda net, train, config, out, val_dataset=None, **k:
                        seen.update(train=train, val=val_dataset))
    argv = TINY + ["--coco-annotations", ann, "--coco-images", images, "--out", tmp_path / "r"]
    with pytest.warns(UserWarning, match="skipped 3 annotation"):
        assert module.main([str(a) for a in argv + ["--classes", "cat",
                                                    "--val-coco-annotations", ann]]) == 0
    assert seen["train"].classes == seen["val"].classes == ("cat",)
    assert seen["train"].category_ids == (17,)
    with pytest.raises(ValueError, match="--val-coco-annotations goes with --coco-annotations"):
        module.main([str(a) for a in TINY + ["--data-root", tmp_path, "--val-coco-annotations",
                                             ann, "--out", tmp_path / "r"]])
