"""Tests for gluon_ssd.deploy.images: calibration images from a folder or arrays."""
import numpy as np
import pytest

from tests.helpers.deploy_fixtures import noise_images

from gluon_ssd import deploy


def test_calibration_images_from_a_folder(tmp_path):
    import matplotlib.image
    images = noise_images(13, 3, size=(50, 70))
    for k, im in enumerate(images):
        matplotlib.image.imsave(tmp_path / f"{k}.png", im)
    (tmp_path / "notes.txt").write_text("not an image")
    loaded = deploy.load_images(str(tmp_path), (40, 60))
    assert loaded.shape == (3, 40, 60, 3) and loaded.dtype == np.uint8
    same_size = deploy.load_images(str(tmp_path), (50, 70))
    np.testing.assert_array_equal(same_size, images)  # PNG is lossless, RGB order kept
    # The folder is read by the package's one image finder (gluon_ssd.data.files.find_images).
    np.testing.assert_array_equal(deploy.load_images(str(tmp_path / "*.png"), (50, 70)), images)
    with pytest.raises(ValueError, match="calibration images: input .*missing' is not a file, "
                                         "a folder or a glob pattern"):
        deploy.load_images(str(tmp_path / "missing"), (40, 60))
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="calibration images: folder .*empty' holds no image"):
        deploy.load_images(str(tmp_path / "empty"), (40, 60))
