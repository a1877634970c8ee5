"""The deploy tests' model, built once per session: ``make_net()`` takes a few seconds (its
BatchNorm statistics come from real activations) and no test changes its weights."""
import pytest

from tests.helpers.deploy_fixtures import make_net


@pytest.fixture(scope="session")
def net():
    """tests.helpers.deploy_fixtures.make_net(0): seeded random 3-class mobilenet0.25 SSD300."""
    return make_net()
