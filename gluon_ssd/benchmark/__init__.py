"""Speed of gluon_ssd's detectors against GluonCV's identical architectures: inference and
training (``scripts/bench.py``, ``gluon-ssd bench``). It reports; it never asserts a target.

One module per part of a run:

- :mod:`.nets`: both zoos' networks, random weights (no downloads), the same initializer, NMS
  settings and hybridization;
- :mod:`.flops`: FLOPs per image by symbolic shape inference, the machine's numpy
  matrix-multiply ceiling;
- :mod:`.timing`: synchronised runs, warm-up, variants alternated round-robin, the plans of timed
  and warm-up runs;
- :mod:`.variants`: the inference variants, one row each (GluonCV fp32, ours fp32, exported,
  int8, ONNX Runtime and OpenVINO dynamic / static / bf16), and the exported files they run;
- :mod:`.inference`: one row of median latencies per model and batch, ratios to GluonCV fp32
  measured in the same run, fractions of the ceiling;
- :mod:`.training`: images/s of one training step, ours (``gluon_ssd.training.steps.TrainStep``) and
  GluonCV's (its ``train_ssd.py`` step), next to the data pipeline's;
- :mod:`.targets`: the step split into forward / targets / loss / backward + update on three
  anchor-dense configurations, our target assignment against GluonCV's generator;
- :mod:`.report`: the printed machine line (CPU ISA, runtimes, load), tables and the JSON record;
  :mod:`.plot`: bar charts;
- :mod:`.suite`: a whole run (:func:`run`), its defaults and ``--quick`` settings.

Example::

    from gluon_ssd import benchmark
    benchmark.run(dict(benchmark.QUICK, mode="inference", variants=["gluoncv", "int8"]))
"""
from .suite import DEFAULT_MODELS, DEFAULTS, QUICK, TARGET_CONFIGS, run
from .variants import LABELS, TABLE, VARIANTS, Variant

__all__ = ["run", "DEFAULT_MODELS", "DEFAULTS", "QUICK", "TABLE", "VARIANTS", "LABELS",
           "Variant", "TARGET_CONFIGS"]
