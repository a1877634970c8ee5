"""The main job until training lands: inspect backbone taps end to end, with no downloads.

Builds the stride-8/16/32 feature extractors of ResNet-50 v1, ResNet-101 v1 and the SSDLite taps of
MobileNetV2, prints their descriptions, runs them (random weights) on a generated image and saves
``taps.png`` (each tap's mean activation over the image) and ``params.png`` (backbone parameters each
tap uses: ResNet-101's stride-16 tap must use far more than ResNet-50's, which is what MXNet's old
example got wrong). Writes ``summary.json`` with the measured specs.
"""
import argparse
import json
import os
import time

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import mxnet as mx  # noqa: E402
import numpy as np  # noqa: E402
from tqdm import tqdm  # noqa: E402

import gluon_ssd  # noqa: E402


def generated_image(height, width, seed=0):
    """A ``(H, W, 3)`` float image in [0, 1]: noisy background with a few filled shapes."""
    rng = np.random.RandomState(seed)
    img = 0.3 + 0.1 * rng.randn(height, width, 3)
    yy, xx = np.mgrid[:height, :width]
    for _ in range(4):
        cy, cx = rng.randint(0, height), rng.randint(0, width)
        r = rng.randint(min(height, width) // 12, min(height, width) // 5)
        colour = rng.uniform(0, 1, 3)
        if rng.rand() < 0.5:
            mask = (yy - cy) ** 2 + (xx - cx) ** 2 < r ** 2
        else:
            mask = (abs(yy - cy) < r) & (abs(xx - cx) < r)
        img[mask] = colour
    return np.clip(img, 0, 1).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="runs/demo", help="output folder")
    parser.add_argument("--size", type=int, default=512, help="input side in pixels")
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    jobs = [("resnet50_v1", dict(strides=(8, 16, 32))),
            ("resnet101_v1", dict(strides=(8, 16, 32))),
            ("mobilenetv2_1.0", dict(strides=(16, 32)))]  # SSDLite: expansion of layer 15 + last
    image = generated_image(args.size, args.size)
    mean = np.array([0.485, 0.456, 0.406], np.float32)  # ImageNet statistics of model_zoo
    std = np.array([0.229, 0.224, 0.225], np.float32)
    x = mx.nd.array(((image - mean) / std).transpose(2, 0, 1)[None])

    results, summary = [], {}
    for name, kwargs in tqdm(jobs, desc="backbones"):
        start = time.time()
        extractor = gluon_ssd.FeatureExtractor(name, **kwargs)
        extractor.initialize(mx.init.Xavier())
        extractor.hybridize()
        outputs = extractor(x)
        maps = [o[0].mean(axis=0).asnumpy() for o in outputs]
        seconds = time.time() - start
        print(extractor.describe(args.size, args.size))
        results.append((name, extractor, maps))
        summary[name] = {
            "taps": [dict(name=s.name, path=s.path, stride=s.stride, channels=s.channels,
                          params=s.params, shape=list(o.shape)) for s, o in zip(extractor.specs,
                                                                               outputs)],
            "params_held": extractor.num_params,
            "backbone_params": extractor.backbone_params,
            "seconds": round(seconds, 3),
        }

    cols = 1 + max(len(maps) for _, _, maps in results)
    fig, axes = plt.subplots(len(results), cols, figsize=(3 * cols, 3 * len(results)))
    for row, (name, extractor, maps) in enumerate(results):
        axes[row, 0].imshow(image)
        axes[row, 0].set_title(f"input {args.size}x{args.size}")
        for col in range(1, cols):
            ax = axes[row, col]
            ax.axis("off")
            if col - 1 < len(maps):
                spec = extractor.specs[col - 1]
                ax.imshow(maps[col - 1], cmap="viridis")
                ax.set_title(f"{name}\nstride {spec.stride}, {spec.channels} ch\n{spec.path}",
                             fontsize=8)
        axes[row, 0].axis("off")
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "taps.png"), dpi=80)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(7, 4))
    width = 0.8 / len(results)
    for k, (name, extractor, _) in enumerate(results):
        xs = [np.log2(s.stride) + k * width for s in extractor.specs]
        ax.bar(xs, [s.params / 1e6 for s in extractor.specs], width, label=name)
    ax.set_xticks([3, 4, 5])
    ax.set_xticklabels(["stride 8", "stride 16", "stride 32"])
    ax.set_ylabel("backbone parameters used (M)")
    ax.set_title("Parameters each tap depends on")
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(args.out, "params.png"), dpi=80)
    plt.close(fig)

    with open(os.path.join(args.out, "summary.json"), "w") as f:
        json.dump(summary, f, indent=2)
    print(f"wrote {args.out}/taps.png, {args.out}/params.png, {args.out}/summary.json")


if __name__ == "__main__":
    main()
