"""The demo records an int8 check it could not make instead of failing."""
from gluon_ssd.cli.demo import INT8_MIN_AGREEMENT, _int8_check, _int8_summary


def test_an_unmeasurable_int8_agreement_is_recorded_as_such():
    check = _int8_check(None)
    assert check["passed"] is None and "no detection scoring >= 0.5" in check["unmeasured"]
    assert _int8_summary(check).startswith("agreement with fp32 unmeasured")


def test_measured_agreements_pass_or_fail_against_the_minimum():
    assert INT8_MIN_AGREEMENT == 0.8
    assert _int8_check(0.9)["passed"] is True and _int8_check(0.7)["passed"] is False
    assert "BELOW 0.8" in _int8_summary(_int8_check(0.7))
