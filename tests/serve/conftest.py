"""One exported test bundle and its images for every serving test (exporting takes ~20 s)."""
import pytest

from tests.helpers.serve_fixtures import export_bundle, image_files


@pytest.fixture(scope="session")
def bundle(tmp_path_factory):
    return export_bundle(str(tmp_path_factory.mktemp("serve_bundle")))


@pytest.fixture(scope="session")
def images(tmp_path_factory):
    return image_files(str(tmp_path_factory.mktemp("serve_images")))
