"""Serving throughput and robustness on loopback: ``gluon-ssd bench --mode serving --bundle DIR``.

Starts ``gluon-ssd serve`` as a subprocess on a free 127.0.0.1 port (the public command, nothing
imported from :mod:`gluon_ssd.serve`), then measures, with HTTP/1.1 keep-alive clients:

1. **one client** sending ``requests`` images one at a time, then **``clients`` concurrent
   clients** sending as many: requests/s, p50 / p99 latency, mean batch size (the service's
   ``X-Batch-Size`` header), errors; the speed-up is their ratio, measured in the same run;
2. **a load test** of ``load_requests`` requests from the concurrent clients, cycling good images
   with every kind of bad input (body over the limit, decompression bomb, not an image,
   truncated, empty, wrong multipart field, threshold outside [0, 1]): every bad one must be
   answered 4xx, every good one 200 with the detections it got alone; the server's resident
   memory (``VmRSS``) at the end against after warm-up.

It reports; it never asserts a target. The CPU's ISA is printed and saved with the figures.
"""
import http.client
import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from PIL import Image

from ..deploy import isa_summary

__all__ = ["run_serving", "BAD_INPUTS"]

_BODY_LIMIT_MB = 1
_MEGAPIXELS = 4
BAD_INPUTS = ("too_large", "bomb", "not_image", "truncated", "empty", "wrong_field", "threshold")


def _png(image):
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, "PNG")
    return buf.getvalue()


def _requests(seed=0, good_images=4):
    """``{name: (target, headers, body, expected_status)}``: good images and bad inputs."""
    rng = np.random.RandomState(seed)
    out = {}
    for k in range(good_images):
        h, w = [(240, 320), (300, 300), (480, 360), (200, 260)][k % 4]
        blocks = np.repeat(np.repeat(rng.uniform(0, 255, (h // 20 + 1, w // 20 + 1, 3)), 20, 0),
                           20, 1)[:h, :w]
        image = np.clip(blocks + rng.normal(0, 20, (h, w, 3)), 0, 255).astype(np.uint8)
        out[f"good{k}"] = ("/v1/detect", {"Content-Type": "image/png"}, _png(image), 200)
    bomb = io.BytesIO()
    Image.new("L", (6000, 6000)).save(bomb, "PNG")  # 36 MP by its header, a few KB
    png = out["good0"][2]
    boundary = "gluonssdbench"
    wrong = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"image\"; filename=\"a.png\""
             f"\r\nContent-Type: image/png\r\n\r\n").encode() + png + f"\r\n--{boundary}--\r\n".encode()
    bad = {
        "too_large": ("/v1/detect", {}, os.urandom(_BODY_LIMIT_MB * 2 ** 20 + 1), 413),
        "bomb": ("/v1/detect", {}, bomb.getvalue(), 413),
        "not_image": ("/v1/detect", {}, b"<html>not an image</html>", 415),
        "truncated": ("/v1/detect", {}, png[:len(png) // 2], 422),
        "empty": ("/v1/detect", {}, b"", 422),
        "wrong_field": ("/v1/detect", {"Content-Type": f"multipart/form-data; boundary="
                                                       f"{boundary}"}, wrong, 422),
        "threshold": ("/v1/detect?score_threshold=1.5", {}, png, 422),
    }
    out.update(bad)
    return out


class _Client:
    """One keep-alive HTTP/1.1 connection; reconnects after the server closed it."""

    def __init__(self, port):
        self.port, self.conn = port, None

    def post(self, target, headers, body):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                start = time.perf_counter()
                self.conn.request("POST", target, body=body,
                                  headers=dict(headers, **{"Content-Length": str(len(body))}))
                response = self.conn.getresponse()
                data = response.read()
                latency = time.perf_counter() - start
                if response.getheader("Connection", "").lower() == "close":
                    self.conn.close()
                    self.conn = None
                return response.status, data, response.getheader("X-Batch-Size"), latency
            except (ConnectionError, http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        raise AssertionError("unreachable")


def _rss_mb(pid):
    with open(f"/proc/{pid}/status", encoding="ascii") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _start(bundle, runtime, max_batch, timeout=180):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    command = [sys.executable, "-m", "gluon_ssd", "serve", bundle, "--port", str(port),
               "--runtime", runtime, "--max-batch", str(max_batch), "--queue-size", "64",
               "--max-body-mb", str(_BODY_LIMIT_MB), "--max-megapixels", str(_MEGAPIXELS)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2) as r:
                if r.status == 200:
                    return proc, port
        except OSError:
            time.sleep(0.3)
    proc.kill()
    raise RuntimeError(f"gluon-ssd serve {bundle} did not become healthy (exit {proc.poll()})")


def _phase(port, table, plan, clients):
    """Send ``plan`` (names of ``table``'s requests) from ``clients`` threads; per-request
    records ``(name, status, body, batch size, seconds)``."""
    def work(part):
        client = _Client(port)
        return [(name,) + client.post(*table[name][:3]) for name in part]

    parts = [plan[k::clients] for k in range(clients)]
    start = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        records = [r for rs in pool.map(work, parts) for r in rs]
    return records, time.perf_counter() - start


def _summary(records, seconds):
    latencies = np.array([r[4] for r in records]) * 1000
    batches = [int(r[3]) for r in records if r[3]]
    return {"requests": len(records), "seconds": round(seconds, 2),
            "requests_per_s": round(len(records) / seconds, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 1),
            "p99_ms": round(float(np.percentile(latencies, 99)), 1),
            "mean_batch": round(float(np.mean(batches)), 2) if batches else 0.0,
            "errors": sum(r[1] != 200 for r in records)}


def _same(a, b, score_atol=1e-3, box_atol=0.1):
    """Two answers' detections agree (any order, float noise allowed)."""
    if len(a) != len(b):
        return False
    free = list(b)
    for det in a:
        match = [d for d in free if d["class"] == det["class"]
                 and abs(d["score"] - det["score"]) <= score_atol
                 and max(abs(x - y) for x, y in zip(d["box"], det["box"])) <= box_atol]
        if not match:
            return False
        free.remove(match[0])
    return True


def run_serving(bundle, runtime="auto", requests=160, clients=8, load_requests=2000,
                max_batch=8, out=None):
    """Run the serving benchmark on ``bundle``; print and return the figures (dict)."""
    table = _requests()
    good = [n for n in table if n.startswith("good")]
    proc, port = _start(bundle, runtime, max_batch)
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/v1/model", timeout=10) as r:
            model = json.load(r)
        warm, _ = _phase(port, table, good * 5, 1)
        reference = {name: json.loads(data)["detections"] for name, _, data, _, _ in warm}
        rss_warm = _rss_mb(proc.pid)
        plan = [good[k % len(good)] for k in range(requests)]
        single = _summary(*_phase(port, table, plan, 1))
        concurrent = _summary(*_phase(port, table, plan, clients))
        mix = good + list(BAD_INPUTS)
        load, seconds = _phase(port, table, [mix[k % len(mix)] for k in range(load_requests)], clients)
        wrong = [(name, status) for name, status, data, _, _ in load
                 if status != table[name][3] or (status == 200 and not _same(
                     reference[name], json.loads(data)["detections"]))]
        rss_end = _rss_mb(proc.pid)
    finally:
        proc.send_signal(signal.SIGTERM)
        exit_code = proc.wait(timeout=60)
    result = {
        "cpu": isa_summary(), "cores": os.cpu_count(), "bundle": os.path.abspath(bundle),
        "runtime": model["runtime"], "precision": model["precision"],
        "data_shape": model["input"]["data_shape"], "max_batch": max_batch,
        "one_client": single, f"{clients}_clients": concurrent,
        "speedup": round(concurrent["requests_per_s"] / single["requests_per_s"], 2),
        "load_test": {"requests": len(load), "seconds": round(seconds, 1),
                      "good": sum(n in good for n, *_ in load),
                      "bad": sum(n not in good for n, *_ in load),
                      "answered_as_expected": len(load) - len(wrong), "wrong": wrong[:10],
                      "rss_after_warmup_mb": round(rss_warm, 1), "rss_end_mb": round(rss_end, 1),
                      "rss_growth": round(rss_end / rss_warm - 1, 3)},
        "exit_code_after_sigterm": exit_code,
    }
    _print(result, clients)
    if out:
        with open(out, "w", encoding="utf-8") as f:
            json.dump(result, f, indent=1)
    return result


def _print(result, clients):
    print(f"CPU: {result['cpu']}, {result['cores']} cores; bundle {result['bundle']} "
          f"({result['runtime']} {result['precision']}, input {result['data_shape']}, "
          f"max batch {result['max_batch']})")
    print(f"{'clients':<12}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}{'batch':>7}{'errors':>8}")
    for label, key in (("1", "one_client"), (str(clients), f"{clients}_clients")):
        row = result[key]
        print(f"{label:<12}{row['requests_per_s']:>8}{row['p50_ms']:>9}{row['p99_ms']:>9}"
              f"{row['mean_batch']:>7}{row['errors']:>8}")
    load = result["load_test"]
    print(f"speed-up {clients} clients / 1: {result['speedup']}x")
    print(f"load test: {load['requests']} requests ({load['good']} good, {load['bad']} bad) in "
          f"{load['seconds']} s, {load['answered_as_expected']} answered as expected; RSS "
          f"{load['rss_after_warmup_mb']} MB after warm-up, {load['rss_end_mb']} MB at the end "
          f"({100 * load['rss_growth']:+.1f}%); exit code after SIGTERM "
          f"{result['exit_code_after_sigterm']}")
