"""The tiles benchmark's parts that run fast: the slicing-cost record and the command's mode.
(The whole run trains two models for minutes: ``gluon-ssd bench --mode tiles``.)"""
from gluon_ssd.benchmark.tiles import TILES_DEFAULTS, InMemoryDataset, slicing_cost
from gluon_ssd.cli.bench import parse_options
from tests.helpers.deploy_fixtures import make_net, noise_images


def test_slicing_cost_times_the_windows_of_one_image():
    net = make_net()
    image = noise_images(3, 1, size=(300, 400))[0]
    # Tile 200 x 200, overlap 0.2: starts every 160 px, the last flush with the edge:
    # rows 0, 100 (2), columns 0, 160, 200 (3): 6 windows.
    cost = slicing_cost(net, net, image, (200, 200), 0.2, repeats=1)
    assert cost["windows"] == 6 and cost["megapixels"] == 0.12
    # The ratio comes from the unrounded medians; the ms figures are rounded to 0.1 ms, so the
    # ratio lies between the ratios of their rounding bounds (+-0.05 ms each, +-0.0005 for its own).
    tiled, batch = cost["tiled_ms"], cost["net_batch_ms"]
    low, high = (tiled - 0.05) / (batch + 0.05), (tiled + 0.05) / max(batch - 0.05, 1e-9)
    assert low - 0.0005 <= cost["ratio"] <= high + 0.0005
    assert cost["mxnet_mp_per_s"] > 0 and cost["bundle_mp_per_s"] > 0


def test_in_memory_repeats_a_dataset():
    items = [("a", 1), ("b", 2)]

    class Two(list):
        classes = ("x",)

    repeated = InMemoryDataset(Two(items), times=3)
    assert len(repeated) == 6 and repeated[5] == ("b", 2) and repeated.classes == ("x",)


def test_bench_has_a_tiles_mode():
    args = parse_options(["--mode", "tiles", "--tile-epochs", "2"])
    assert args.mode == "tiles" and args.tile_epochs == 2
    assert TILES_DEFAULTS["tile"] == (256, 256) and TILES_DEFAULTS["epochs"] == 6
