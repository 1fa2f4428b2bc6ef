"""Your own pictures: formats and modes, skipped files, the decode cache, the splits and the sample grid."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra.utils import instantiate
from PIL import Image

from ganforge.callbacks.preview import ImageGrid
from ganforge.data import ImageFolderDataModule
from ganforge.data.base import balanced_labels
from ganforge.data.folder import class_folders
from ganforge.errors import ConfigError, DataError

RED, BLUE, GREEN = (220, 30, 30), (30, 30, 220), (30, 200, 60)
# Below every good picture's size, above the two bombs': PIL errs above twice the limit and only warns above it.
PIXEL_LIMIT = 20_000


def solid(colour, size=(48, 40), mode="RGB") -> Image.Image:
    return Image.new(mode, size, colour)


def exif_rotated() -> Image.Image:
    """A landscape picture, left half red and right half blue, whose EXIF says: turn 90° clockwise to view."""
    picture = solid(BLUE, (60, 30))
    picture.paste(RED, (0, 0, 30, 30))
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° CW
    picture.info["exif"] = exif.tobytes()
    return picture


def make_mixed_folder(root: Path) -> Path:
    """Two class folders of pictures in every format and mode a user may have, plus files that are not pictures.

    "cats" (13 readable) are reddish, "dogs" (14 readable) bluish; transparent pixels stand where the
    background colour should show.
    """
    rng = np.random.default_rng(0)
    cats, dogs = root / "cats", root / "dogs"
    (cats / "indoor").mkdir(parents=True)  # nested folders belong to their class
    dogs.mkdir()
    for i in range(8):
        noise = rng.integers(-20, 20, size=(40, 48, 3))
        reddish, bluish = (np.clip(np.array(colour) + noise, 0, 255).astype(np.uint8) for colour in (RED, BLUE))
        Image.fromarray(reddish).save(cats / f"rgb_{i}.png")
        Image.fromarray(bluish).save(dogs / f"rgb_{i}.jpg", quality=95)
    solid(RED).save(cats / "indoor" / "photo.JPEG", quality=95)
    solid(RED).save(cats / "lossless.webp", lossless=True)
    solid(RED).save(cats / "windows.bmp")
    solid(90, mode="L").save(cats / "grey.png")
    solid(90, mode="L").save(dogs / "grey.jpg")
    exif_rotated().save(cats / "rotated.jpg", exif=exif_rotated().info["exif"], quality=95)
    transparent = solid((*BLUE, 255), mode="RGBA")
    transparent.paste((0, 0, 0, 0), (0, 0, 48, 20))  # top half fully transparent
    transparent.save(dogs / "cutout.png")
    transparent.save(dogs / "cutout.webp", lossless=True)
    palette = solid(BLUE).quantize(4)
    palette.save(dogs / "palette.png")
    palette.save(dogs / "palette_transparent.png", transparency=0)  # index 0 (blue) is transparent: all background
    Image.fromarray(np.full((40, 48), 128 * 257, dtype=np.uint16)).save(dogs / "sixteen_bit.png")
    # What must be skipped, each with a warning: a corrupt file, text under a picture's name, two decompression bombs.
    (cats / "corrupt.jpg").write_bytes((cats / "indoor" / "photo.JPEG").read_bytes()[:300])
    (dogs / "notes.png").write_text("not a picture")
    solid(0, (1000, 1000), "L").save(cats / "bomb.png")  # 50× the limit, a few kB on disk
    solid(0, (150, 150), "L").save(dogs / "large.png")  # between the limit and twice it: PIL would only warn
    # What is not a picture of the set at all: ignored without a word.
    (cats / "notes.txt").write_text("taken in the garden")
    (dogs / ".hidden.png").write_bytes(b"")
    return root


BAD_FILES = ("cats/corrupt.jpg", "dogs/notes.png", "cats/bomb.png", "dogs/large.png")


@pytest.fixture
def mixed_folder(tmp_path) -> Path:
    return make_mixed_folder(tmp_path / "pictures")


def folder_module(path: Path, cache_dir: Path | None, **options) -> ImageFolderDataModule:
    options = {"class_names": class_folders(path), "sample_shape": [3, 16, 16], "test_fraction": 0.0,
               "max_image_pixels": PIXEL_LIMIT, "batch_size": 4, **options}
    return ImageFolderDataModule(str(path), cache_dir=str(cache_dir) if cache_dir else None, **options)


def read(path: Path, cache_dir: Path | None = None, **options) -> tuple[torch.Tensor, torch.Tensor]:
    """All readable pictures of the folder (nothing held out) and their labels."""
    return folder_module(path, cache_dir, **options).load("train")


def picture(path: Path, name: str, **options) -> torch.Tensor:
    """The decoded picture `name` of the folder: read on its own, in a copy holding only it."""
    single = path.parent / f"only-{Path(name).stem}"
    single.mkdir(exist_ok=True)
    (single / Path(name).name).write_bytes((path / name).read_bytes())
    options = {"class_names": [], "max_image_pixels": None, **options}
    return folder_module(single, None, **options).load("train")[0][0]


def test_every_format_and_mode_is_read_and_bad_files_are_skipped_with_a_warning_each(mixed_folder, caplog):
    caplog.set_level(logging.WARNING)
    images, labels = read(mixed_folder)
    assert images.shape == (27, 3, 16, 16) and images.dtype == torch.uint8
    assert torch.bincount(labels).tolist() == [13, 14]
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    for bad in BAD_FILES:
        assert sum(bad in message for message in warnings) == 1, bad
    assert any("skipped 4 of the 31 files" in message for message in warnings)
    for bomb in ("cats/bomb.png", "dogs/large.png"):
        assert any(f"{bomb}: more than data.max_image_pixels={PIXEL_LIMIT}" in message for message in warnings)
    assert not any("notes.txt" in message or ".hidden" in message for message in warnings)


def test_colours_and_modes_come_out_as_drawn(mixed_folder):
    red = picture(mixed_folder, "cats/lossless.webp").float().mean(dim=(1, 2))
    assert torch.allclose(red, torch.tensor(RED, dtype=torch.float), atol=1)
    grey = picture(mixed_folder, "cats/grey.png")
    assert (grey == 90).all()  # a grey picture read as RGB has three equal channels
    assert (picture(mixed_folder, "dogs/sixteen_bit.png") == 128).all()  # 16-bit scaled, not clipped to 255
    assert (picture(mixed_folder, "cats/grey.png", sample_shape=[1, 16, 16]) == 90).all()
    rgb_as_grey = picture(mixed_folder, "cats/windows.bmp", sample_shape=[1, 16, 16])
    luma = 0.299 * RED[0] + 0.587 * RED[1] + 0.114 * RED[2]  # ITU-R 601, as PIL converts
    assert rgb_as_grey.shape == (1, 16, 16) and abs(rgb_as_grey.float().mean() - luma) < 1
    assert torch.equal(picture(mixed_folder, "dogs/palette.png")[:, 8, 8], torch.tensor(BLUE, dtype=torch.uint8))


@pytest.mark.parametrize("background", [(255, 255, 255), (0, 0, 0)])
def test_transparent_pixels_show_the_background(mixed_folder, background):
    for name in ("dogs/cutout.png", "dogs/cutout.webp"):
        cutout = picture(mixed_folder, name, background=background)  # 48×40 cropped to its middle 40×40
        assert cutout[:, 1, 8].tolist() == list(background) and cutout[:, 14, 8].tolist() == list(BLUE)
    assert (picture(mixed_folder, "dogs/palette_transparent.png", background=background)[:, 8, 8] ==
            torch.tensor(background, dtype=torch.uint8)).all()


def test_exif_orientation_is_applied(mixed_folder):
    rotated = picture(mixed_folder, "cats/rotated.jpg").float()
    top, bottom = rotated[:, :6].mean(dim=(1, 2)), rotated[:, -6:].mean(dim=(1, 2))
    assert top[0] > 180 > top[2] and bottom[2] > 180 > bottom[0]  # upright: red above blue, not left of it


def test_cache_is_built_once_reused_and_rebuilt_when_a_file_changes(mixed_folder, tmp_path, caplog):
    cache_dir = tmp_path / "data" / "cache"
    listing = sorted(p for p in mixed_folder.rglob("*"))
    first, labels = read(mixed_folder, cache_dir)
    caches = list(cache_dir.iterdir())
    assert len(caches) == 1 and caches[0].name.startswith("pictures-") and caches[0].suffix == ".pt"
    assert sorted(p for p in mixed_folder.rglob("*")) == listing  # nothing written among the pictures
    built = caches[0].stat()

    # Same size, same modification time, other pixels: a reused cache does not see the change.
    bitmap = mixed_folder / "cats" / "windows.bmp"
    stat = bitmap.stat()
    solid(GREEN).save(bitmap)
    os.utime(bitmap, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert bitmap.stat().st_size == stat.st_size
    caplog.clear()
    second, second_labels = read(mixed_folder, cache_dir)
    assert torch.equal(second, first) and torch.equal(second_labels, labels)
    assert (caches[0].stat().st_ino, caches[0].stat().st_mtime_ns) == (built.st_ino, built.st_mtime_ns)
    assert "4 files under" in caplog.text  # the skipped files are still counted, once
    assert not any("skipping" in r.getMessage() for r in caplog.records)

    # A changed file (its modification time) is a new key: decoded afresh, and the green appears.
    os.utime(bitmap, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    third, _ = read(mixed_folder, cache_dir)
    assert len(list(cache_dir.iterdir())) == 2
    green_rows = (third.float().mean(dim=(2, 3)) - torch.tensor(GREEN)).abs().max(dim=1).values < 2
    assert green_rows.sum() == 1 and not torch.equal(third, first)

    # So is another setting: the same folder at another size has its own cache.
    read(mixed_folder, cache_dir, sample_shape=[1, 8, 8])
    assert len(list(cache_dir.iterdir())) == 3


def test_a_broken_cache_is_rebuilt(mixed_folder, tmp_path, caplog):
    cache_dir = tmp_path / "cache"
    first, _ = read(mixed_folder, cache_dir)
    (cache_file,) = cache_dir.iterdir()
    cache_file.write_bytes(b"garbage")
    again, _ = read(mixed_folder, cache_dir)
    assert torch.equal(again, first) and "ignoring the unreadable image cache" in caplog.text
    assert torch.load(cache_file, weights_only=True)["images"].shape == first.shape


def test_a_cache_never_goes_inside_the_pictures(mixed_folder):
    with pytest.raises(ConfigError, match="inside data.path"):
        folder_module(mixed_folder, mixed_folder / "cache")


def test_empty_and_unreadable_folders_are_one_clear_error(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        folder_module(tmp_path / "nowhere", None).load("train")
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "readme.txt").write_text("no pictures here")
    with pytest.raises(DataError, match="no images"):
        folder_module(tmp_path / "empty", None).load("train")
    (tmp_path / "broken").mkdir()
    (tmp_path / "broken" / "a.png").write_bytes(b"not a png")
    (tmp_path / "broken" / "b.jpg").write_bytes(b"")
    with pytest.raises(DataError, match="none of the 2 image files under .*broken could be read") as err:
        folder_module(tmp_path / "broken", None).load("train")
    assert "\n" not in str(err.value)


def test_split_holds_out_at_least_one_picture_and_an_empty_test_split_is_an_error(tmp_path):
    folder = tmp_path / "three"
    folder.mkdir()
    for i in range(3):
        solid(RED).save(folder / f"{i}.png")
    small = folder_module(folder, None, test_fraction=0.1)
    assert len(small.load("test")[0]) == 1 and len(small.load("train")[0]) == 2  # ceil(0.3)
    nothing_held_out = folder_module(folder, None, test_fraction=0.0)
    assert len(nothing_held_out.load("train")[0]) == 3
    with pytest.raises(DataError, match=r"test split of .* is empty .*set data.test_fraction above 0"):
        nothing_held_out.load("test")


def test_pictures_outside_the_class_folders_are_left_out_with_a_warning(tmp_path, caplog):
    folder = tmp_path / "labelled"
    (folder / "a").mkdir(parents=True)
    solid(RED).save(folder / "a" / "1.png")
    solid(RED).save(folder / "a" / "2.png")
    solid(BLUE).save(folder / "stray.png")
    images, labels = read(folder)
    assert len(images) == 2 and labels.tolist() == [0, 0]
    assert "1 pictures under" in caplog.text and "left out" in caplog.text


def test_folder_config_caches_under_the_data_dir(compose_config, mixed_folder, tmp_path):
    cfg = compose_config(["data=folder", f"data.path={mixed_folder}", "data.sample_shape=[3,32,32]",
                          f"data.max_image_pixels={PIXEL_LIMIT}", "data.batch_size=4"])
    dm = instantiate(cfg.data)
    dm.setup("fit")
    assert dm.class_names == ("cats", "dogs") and len(dm.train_set) == 27 - 3  # ceil(10 % of 27) held out
    assert len(list((tmp_path / "data" / "cache" / "folders").glob("pictures-*.pt"))) == 1


def tile(grid: np.ndarray, index: int, columns: int, side: int = 32) -> list[int]:
    """The colour at the centre of tile `index` of an image grid with 2-pixel padding."""
    row, column = divmod(index, columns)
    return grid[2 + (side + 2) * row + side // 2, 2 + (side + 2) * column + side // 2].tolist()


# Which sample each tile of a preview grid shows (None: a blank tile), hand-worked for the two-class folder.
GRID_LAYOUTS = {
    # unconditional: ⌈√n⌉ columns, in order
    ("gan", 8): (3, [0, 1, 2, 3, 4, 5, 6, 7]),
    ("gan", 11): (4, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]),
    # conditional: each class (samples 0-3 | 4-7, and 0-5 | 6-10) starts a row, a short row ends blank
    ("cgan", 8): (3, [0, 1, 2, 3, None, None, 4, 5, 6, 7, None, None]),
    ("cgan", 11): (4, [0, 1, 2, 3, 4, 5, None, None, 6, 7, 8, 9, 10, None, None, None]),
}


@pytest.mark.parametrize("model, preview_size", sorted(GRID_LAYOUTS))
def test_sample_grid_has_the_right_size_and_colours(compose_config, image_folder, model, preview_size):
    cfg = compose_config([f"model={model}", "data=folder", f"data.path={image_folder}", "data.sample_shape=[3,32,32]"])
    dm, gan = instantiate(cfg.data), instantiate(cfg.model)
    colours = torch.randint(0, 256, (preview_size, 3), generator=torch.Generator().manual_seed(0), dtype=torch.uint8)
    fake = colours.view(-1, 3, 1, 1).expand(-1, 3, 32, 32).contiguous()
    grid = ImageGrid(preview_size)(fake, balanced_labels(preview_size, max(dm.num_classes, 1)), gan, dm)
    columns, layout = GRID_LAYOUTS[model, preview_size]
    rows = -(-len(layout) // columns)
    assert grid.dtype == np.uint8 and grid.shape == (rows * 34 + 2, columns * 34 + 2, 3)
    expected = [[255, 255, 255] if sample is None else colours[sample].tolist() for sample in layout]
    assert [tile(grid, i, columns) for i in range(len(layout))] == expected


def test_grey_samples_make_a_grey_grid(compose_config, image_folder):
    cfg = compose_config(["model=gan", "data=folder", f"data.path={image_folder}", "data.sample_shape=[1,32,32]"])
    dm, gan = instantiate(cfg.data), instantiate(cfg.model)
    fake = torch.tensor([0, 60, 120, 250], dtype=torch.uint8).view(4, 1, 1, 1).expand(4, 1, 32, 32)
    grid = ImageGrid(4)(fake, balanced_labels(4, 1), gan, dm)
    assert grid.shape == (70, 70, 3)
    assert [tile(grid, i, 2) for i in range(4)] == [[v] * 3 for v in (0, 60, 120, 250)]


# Slim nets: one training step of every variant at every size stays a fraction of a second.
SLIM_SNGAN = ["model.generator.channels=8", "model.discriminator.channels=8", "model.generator.max_channels=32",
              "model.discriminator.max_channels=32"]
SLIM_DCGAN = ["model.generator.channels=[32,16]", "model.discriminator.channels=[8,16]"]
SLIM_ACGAN = ["model.generator.channels=[32,16,8]", "model.generator.refine_channels=[8]",
              "model.discriminator.channels=[8,8,16,16]", "model.discriminator.feature_dim=16"]
SLIM_MLP = ["model.generator.hidden_dims=[32]", "model.discriminator.hidden_dims=[32]"]
IMAGE_VARIANTS = {"gan": SLIM_SNGAN, "sngan_cgan": SLIM_SNGAN, "dcgan": SLIM_DCGAN, "cdcgan": SLIM_DCGAN,
                  "wgan": SLIM_DCGAN, "wgan_gp": SLIM_DCGAN, "acgan": SLIM_ACGAN, "acgan_conditional": SLIM_ACGAN,
                  "mlp_gan": SLIM_MLP, "mlp_cgan": SLIM_MLP, "cgan": SLIM_MLP}


def test_every_image_variant_is_tested_on_folders():
    models = {p.stem for p in (Path(__file__).parents[1] / "conf" / "model").glob("*.yaml")}
    assert models - set(IMAGE_VARIANTS) == {"toy"}  # a new image model joins the matrix below


@pytest.mark.parametrize("shape", [(3, 32), (1, 32), (3, 64), (1, 64)], ids=["rgb32", "grey32", "rgb64", "grey64"])
@pytest.mark.parametrize("model", sorted(IMAGE_VARIANTS))
def test_one_training_step_of_every_image_variant_on_a_folder(compose_config, image_folder, tmp_path, model, shape):
    from ganforge.training import train

    channels, side = shape
    train(compose_config([f"model={model}", "data=folder", f"data.path={image_folder}",
                          f"data.sample_shape=[{channels},{side},{side}]", "data.batch_size=4",
                          "trainer.fast_dev_run=true", "callbacks.sample_preview.drawers.image.size=4",
                          *IMAGE_VARIANTS[model]]))
    # The preview of the step's generator: 2×2 tiles (2 per class for a conditional model) of the folder's size.
    preview = np.asarray(Image.open(tmp_path / "samples" / "epoch_000.png"))
    assert preview.shape == (2 * (side + 2) + 2, 2 * (side + 2) + 2, 3)
    tiles = preview[2:-2, 2:-2].astype(int)
    grey = (tiles[..., 0] == tiles[..., 1]).all() and (tiles[..., 1] == tiles[..., 2]).all()
    assert grey == (channels == 1)


def test_the_domain_fid_callback_takes_a_folders_config(compose_config, image_folder):
    """Its `data_config: ${data}` is resolved again when the callback is built: the class folders survive it."""
    cfg = compose_config(["data=folder", f"data.path={image_folder}", "callbacks=domain_fid"])
    callback = instantiate(cfg.callbacks.domain_fid)
    assert callback.data_config["class_names"] == ["cats", "dogs"] and callback.data_config["path"] == str(image_folder)
