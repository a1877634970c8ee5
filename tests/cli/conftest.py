"""The command-line tests' trained run, built once per session (tests/helpers/trained_run.py)."""
import pytest

from tests.helpers.trained_run import train_run


@pytest.fixture(scope="session")
def run(tmp_path_factory):
    """(data root, run folder) of a one-epoch mobilenet0.25 run on synthetic shapes. The tests
    read it and write elsewhere."""
    return train_run(tmp_path_factory.mktemp("trained"))
