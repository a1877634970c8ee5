"""Tests for gluon_ssd.cli.context: ``--ctx`` as MXNet contexts."""
import mxnet as mx
import pytest

from gluon_ssd.cli import parse_ctx


def test_parse_ctx():
    assert parse_ctx("cpu") == [mx.cpu(0)]
    assert parse_ctx("gpu0,gpu1") == [mx.gpu(0), mx.gpu(1)]
    with pytest.raises(ValueError, match="tpu0"):
        parse_ctx("tpu0")
