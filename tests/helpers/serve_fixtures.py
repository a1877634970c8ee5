"""The serving tests' bundle, images and server: a seeded random 3-class mobilenet0.25 SSD300
exported with its ONNX graph (confident, image-dependent detections: tests.helpers.deploy_fixtures),
noise images as files, and ``gluon-ssd serve`` started in a subprocess on a free loopback port."""
import io
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import mxnet as mx
import numpy as np
from PIL import Image

from gluon_ssd import deploy
from gluon_ssd.data.transforms import ValTransform
from tests.helpers.deploy_fixtures import SIZE, make_net, noise_images

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def export_bundle(folder):
    """Export the random test model with its ONNX graph to ``folder``; returns ``folder``."""
    deploy.export(make_net(), folder, SIZE, onnx=True)
    return folder


def image_files(folder, sizes=((240, 320), (300, 200), (180, 180))):
    """PNG files of noise images of ``(height, width)`` ``sizes`` in ``folder``; their paths."""
    paths = []
    for k, (size, image) in enumerate(zip(sizes, _images(sizes))):
        path = os.path.join(folder, f"noise{k}.png")
        Image.fromarray(image).save(path)
        paths.append(path)
    return paths


def _images(sizes):
    return [noise_images(100 + k, 1, size=size)[0] for k, size in enumerate(sizes)]


def png_bytes(image):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def normalized_input(image, data_shape, mean, std):
    """``(3, H, W)`` numpy input of the detect path (ValTransform) for a uint8 RGB image."""
    data, _ = ValTransform(data_shape, mean, std)(mx.nd.array(image, dtype="uint8"),
                                                  np.zeros((0, 5), np.float32))
    return data.asnumpy()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(bundle, *options, log=None, timeout=120):
    """``(process, port)``: ``gluon-ssd serve bundle`` answering /health 200 on 127.0.0.1."""
    port = free_port()
    env = dict(os.environ, PYTHONPATH=ROOT, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "gluon_ssd", "serve", bundle, "--port",
                             str(port), *options], cwd=ROOT, env=env, stdout=log or subprocess.DEVNULL,
                            stderr=subprocess.STDOUT if log else subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"gluon-ssd serve exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, port
        except (urllib.error.URLError, ConnectionError, OSError):
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"gluon-ssd serve did not become healthy in {timeout} s")


def stop_server(proc):
    """Stop a server left running by a failed test."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(timeout=30)


class ThreadedServer:
    """uvicorn serving ``app`` on a free loopback port in a thread of this process (no start-up
    import cost; signals stay with the main thread): ``with ThreadedServer(app) as port: ...``."""

    def __init__(self, app):
        import uvicorn
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port,
                                                    log_level="warning"))
        self.thread = None

    def __enter__(self):
        import threading
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health",
                                            timeout=2) as r:
                    if r.status == 200:
                        return self.port
            except (urllib.error.URLError, ConnectionError, OSError):
                time.sleep(0.1)
        raise RuntimeError("the threaded server did not become healthy in 60 s")

    def __exit__(self, *exc):
        self.server.should_exit = True
        self.thread.join(timeout=30)
