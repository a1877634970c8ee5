"""The issue's targets, as measured in a run: reported, never asserted.

On ssd_300_vgg16_atrous_voc, batch 1, this project's 2-core CPU: exported fp32 at most 0.77 x
GluonCV's latency; int8 at most 0.5 x; the fastest runtime ``deploy.load`` offers at most 0.12 x
on a CPU with bf16 units (0.45 x without; issue 10), and 0.2 x on ssd_300_mobilenet0.25_voc;
ours fp32 not slower than GluonCV anywhere; training images/s ours / GluonCV at least 1.0.
"""
from .. import deploy
from .variants import DEPLOYED

__all__ = ["TARGET_MODEL", "TARGET_BATCH", "SMALL_MODEL", "fastest_deployed", "targets_report"]

TARGET_MODEL, TARGET_BATCH = "ssd_300_vgg16_atrous_voc", 1
TARGET_EXPORTED, TARGET_INT8, TARGET_TRAIN = 0.77, 0.5, 1.0
# Issue 10: the fastest runtime deploy.load offers, x GluonCV fp32, batch 1.
TARGET_DEPLOY_BF16, TARGET_DEPLOY_NO_BF16 = 0.12, 0.45
SMALL_MODEL, TARGET_DEPLOY_SMALL = "ssd_300_mobilenet0.25_voc", 0.2


def fastest_deployed(row):
    """The smallest x GluonCV among the deployed variants of ``row`` (None if not measured)."""
    ratios = [e["x_gluoncv"] for v, e in (row or {}).get("variants", {}).items()
              if v in DEPLOYED and e.get("x_gluoncv") is not None]
    return min(ratios) if ratios else None


def _row(rows, model):
    return next((r for r in rows if r["model"] == model and r["batch"] == TARGET_BATCH), None)


def targets_report(inference_rows, training_rows):
    """[{'target': description, 'value': measured or None, 'met': bool or None}]."""
    out = []

    def check(text, value, limit, above=False):
        met = None if value is None else (value >= limit if above else value <= limit)
        out.append({"target": text, "value": value, "met": met})

    target = _row(inference_rows, TARGET_MODEL)
    variants = target["variants"] if target else {}
    where = f"{TARGET_MODEL} batch {TARGET_BATCH}"
    check(f"{where}: exported fp32 <= {TARGET_EXPORTED} x GluonCV",
          variants.get("exported", {}).get("x_gluoncv"), TARGET_EXPORTED)
    check(f"{where}: int8 <= {TARGET_INT8} x GluonCV", variants.get("int8", {}).get("x_gluoncv"),
          TARGET_INT8)
    bf16 = deploy.has_bf16()
    limit = TARGET_DEPLOY_BF16 if bf16 else TARGET_DEPLOY_NO_BF16
    check(f"{where}: fastest deploy.load runtime <= {limit} x GluonCV "
          f"({'CPU with' if bf16 else 'CPU without'} bf16 units)", fastest_deployed(target), limit)
    check(f"{SMALL_MODEL} batch {TARGET_BATCH}: fastest deploy.load runtime <= "
          f"{TARGET_DEPLOY_SMALL} x GluonCV", fastest_deployed(_row(inference_rows, SMALL_MODEL)),
          TARGET_DEPLOY_SMALL)
    ours = [r["variants"]["ours"]["x_gluoncv"] for r in inference_rows
            if r["variants"].get("ours", {}).get("x_gluoncv") is not None]
    check(f"ours fp32 <= 1.0 x GluonCV in all {len(ours)} inference cases (worst)",
          max(ours) if ours else None, 1.0)
    ratios = [r["ratio"] for r in training_rows]
    check(f"training images/s ours / GluonCV >= {TARGET_TRAIN} in all {len(ratios)} models "
          f"(worst)", min(ratios) if ratios else None, TARGET_TRAIN, above=True)
    return out
