"""Offline, --pretrained-base ends in one line: the file, its folder, --no-pretrained-base."""
import re

import pytest
import requests

from gluon_ssd import zoo


@pytest.fixture
def offline(monkeypatch, tmp_path):
    def refuse(*args, **kwargs):
        raise requests.exceptions.ConnectionError("HTTPSConnectionPool(host='x', port=443): "
                                                  "Max retries exceeded")
    monkeypatch.setattr("mxnet.gluon.model_zoo.model_store.download", refuse)
    return tmp_path


@pytest.mark.parametrize("model, file_name", [
    ("ssd_300_mobilenet0.25_voc", "mobilenet0.25-9f83e440.params"),   # model_zoo's sha1 prefix
    ("ssd_300_vgg16_atrous_voc", "vgg16-e660d456.params")])
def test_a_failed_download_names_file_folder_and_the_way_out(offline, model, file_name):
    with pytest.raises(ValueError, match=rf"put {re.escape(file_name)} ") as err:
        zoo.get_model(model, pretrained_base=True, root=str(offline / "store"))
    message = str(err.value)
    assert "\n" not in message
    assert re.search(rf"put {re.escape(file_name)} \(unzipped from https://\S+\.zip\) in "
                     rf"{re.escape(str(offline / 'store'))} \(the model store: \$MXNET_HOME/models,"
                     r" or --root\), or train without them: --no-pretrained-base$", message)


def test_the_default_folder_is_mxnet_home(offline, monkeypatch):
    monkeypatch.setenv("MXNET_HOME", str(offline / "home"))
    with pytest.raises(ValueError, match=r"in .*home.models \(the model store"):
        zoo.get_model("ssd_300_mobilenet0.25_voc", pretrained_base=True)
