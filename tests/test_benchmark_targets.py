"""gluon_ssd.benchmark.targets: the issue's targets from measured rows, reported not asserted."""
from gluon_ssd import deploy
from gluon_ssd.benchmark import targets
from gluon_ssd.benchmark.targets import fastest_deployed, targets_report


def _row(model, batch=1, **ratios):
    return {"model": model, "batch": batch,
            "variants": {v: {"x_gluoncv": r} for v, r in ratios.items()}}


def test_fastest_deployed_ignores_the_networks():
    row = _row("m", gluoncv=1.0, ours=0.05, exported=0.7, int8=0.3, openvino_static=None)
    assert fastest_deployed(row) == 0.3
    assert fastest_deployed(_row("m", gluoncv=1.0, ours=0.5)) is None
    assert fastest_deployed(None) is None


def test_targets_met_not_met_and_not_measured():
    rows = [_row(targets.TARGET_MODEL, gluoncv=1.0, ours=0.9, exported=0.8, int8=0.2),
            _row(targets.TARGET_MODEL, batch=8, gluoncv=1.0, ours=1.1),
            _row(targets.SMALL_MODEL, gluoncv=1.0, ours=0.5)]
    report = targets_report(rows, [{"ratio": 1.2}, {"ratio": 0.9}])
    got = {t["target"]: (t["value"], t["met"]) for t in report}
    where = f"{targets.TARGET_MODEL} batch 1"
    assert got[f"{where}: exported fp32 <= 0.77 x GluonCV"] == (0.8, False)
    assert got[f"{where}: int8 <= 0.5 x GluonCV"] == (0.2, True)
    limit = 0.12 if deploy.has_bf16() else 0.45
    (fastest,) = [k for k in got if k.startswith(f"{where}: fastest")]
    assert f"<= {limit} x GluonCV" in fastest and got[fastest] == (0.2, 0.2 <= limit)
    small = f"{targets.SMALL_MODEL} batch 1: fastest deploy.load runtime <= 0.2 x GluonCV"
    assert got[small] == (None, None)
    assert got["ours fp32 <= 1.0 x GluonCV in all 3 inference cases (worst)"] == (1.1, False)
    assert got["training images/s ours / GluonCV >= 1.0 in all 2 models (worst)"] == (0.9, False)


def test_nothing_measured():
    assert all(t["value"] is None and t["met"] is None for t in targets_report([], []))
