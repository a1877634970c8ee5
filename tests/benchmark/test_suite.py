"""gluon_ssd.benchmark.suite: a whole run from partial options (the defaults fill the rest)."""
import pytest

from gluon_ssd import benchmark

MODEL = "ssd_300_mobilenet0.25_voc"


@pytest.mark.slow
def test_run_fills_defaults_and_reports(capsys, tmp_path):
    out = tmp_path / "r.json"
    result = benchmark.run({"mode": "inference", "models": [MODEL], "batch_sizes": [1],
                            "variants": ["ours"], "repeats": 1, "warmup": 0, "out": str(out)})
    (row,) = result["inference"]
    assert list(row["variants"]) == ["ours"] and row["variants"]["ours"]["x_gluoncv"] is None
    assert result["training"] == []
    text = capsys.readouterr().out
    assert "CPU ISA: " in text and "Targets" not in text  # it reports; it has no targets
    assert "Training step" not in text and f"wrote {out}" in text
    assert out.exists()
