import pytest

from service.knowledge import load_knowledge


@pytest.fixture(scope="session")
def knowledge():
    return load_knowledge()
