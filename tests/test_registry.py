"""Third-party plugins through real entry points of a throw-away distribution."""

import sys
import textwrap
from importlib import invalidate_caches
from pathlib import Path

import pytest

from anobench import registry
from anobench.errors import AnobenchError

TOY_MODULE = '''
import numpy as np
import torch.nn.functional as F

from anobench.api import Case, DatasetPlugin, Evaluation, MethodPlugin, Prediction


class BrightnessMethod:
    """Anomaly = brightness above the image's mean: enough to find bright squares."""

    def settings(self):
        return {"kind": "brightness"}

    def predict(self, batch):
        images = batch.images
        return Prediction(maps=(images - images.mean(dim=(2, 3), keepdim=True)).clamp(0, 1), nfe=0)


class Squares:
    splits = ("test",)
    evaluation = Evaluation("pixel", training_split=None)

    def __init__(self, size):
        self.size = size

    def case_ids(self, split):
        return [f"square-{index}" for index in range(6)]

    def load_case(self, split, case_id):
        index = int(case_id.split("-")[1])
        image = np.full((self.size, self.size), 0.2, np.float32)
        mask = np.zeros_like(image, dtype=bool)
        side = 3 + 3 * index
        mask[5 : 5 + side, 10 : 10 + side] = True
        image[mask] = 0.9
        return Case(case_id, image, mask, subject_id=f"sub-{index}")

    def manifest(self):
        return {"files": {}, "settings": {"size": self.size}}

    def settings(self):
        return {"size": self.size}


method = MethodPlugin(
    "brightness", "Above-mean brightness (a test plugin).", lambda options, context: BrightnessMethod()
)
dataset = DatasetPlugin(
    "squares", "Bright squares (a test plugin).", lambda options, context: Squares(context.image_size)
)
clash = MethodPlugin("ddpm", "A second ddpm.", lambda options, context: BrightnessMethod())
'''


def make_distribution(root: Path, name: str, entry_points: str, module: str = TOY_MODULE) -> Path:
    """A minimal installed distribution: a module plus its .dist-info, as pip would leave them."""
    package = name.replace("-", "_")
    (root / package).mkdir(parents=True)
    (root / package / "__init__.py").write_text(textwrap.dedent(module))
    info = root / f"{package}-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text(textwrap.dedent(entry_points).replace("PKG", package))
    return root


@pytest.fixture
def toy_distribution(tmp_path, monkeypatch):
    site = make_distribution(
        tmp_path / "site",
        "toy-plugin",
        """
        [anobench.methods]
        brightness = PKG:method
        [anobench.datasets]
        squares = PKG:dataset
        """,
    )
    monkeypatch.syspath_prepend(str(site))
    invalidate_caches()
    yield site
    sys.modules.pop("toy_plugin", None)


def test_builtins_come_from_anobenchs_own_entry_points():
    entries = registry.methods.entries()
    assert entries["ddpm"].distribution == "anobench"
    assert registry.datasets.entries()["brain-phantom"].distribution == "anobench"
    assert registry.methods.get("ddpm").name == "ddpm"


def test_unknown_name_lists_the_known_ones():
    with pytest.raises(AnobenchError, match="unknown method 'thorr'; available: .*ddpm"):
        registry.methods.get("thorr")


def test_third_party_plugin_is_found(toy_distribution):
    assert registry.methods.entries()["brightness"].distribution == "toy-plugin"
    assert registry.datasets.get("squares").description.startswith("Bright squares")


def test_third_party_method_runs_from_the_cli_unchanged(toy_distribution, tmp_path, cli):
    env = {"PYTHONPATH": str(toy_distribution)}
    listing = cli("list", env=env)
    assert listing.returncode == 0, listing.stderr
    assert "brightness" in listing.stdout and "toy-plugin" in listing.stdout
    out = tmp_path / "run"
    result = cli("run", "--method", "brightness", "--dataset", "squares", "--out", str(out), env=env)
    assert result.returncode == 0, result.stderr
    board = cli("compare", str(out), "--out-dir", str(tmp_path / "boards"), env=env)
    assert board.returncode == 0, board.stderr
    text = (tmp_path / "boards" / "squares.md").read_text()
    row = next(line for line in text.splitlines() if line.startswith("| brightness"))
    assert "100.00" in row  # the squares are found exactly


def test_one_name_from_two_distributions_is_an_error_naming_both(tmp_path, monkeypatch):
    site = make_distribution(tmp_path / "site", "clashing-plugin", "[anobench.methods]\nddpm = PKG:clash\n")
    monkeypatch.syspath_prepend(str(site))
    invalidate_caches()
    with pytest.raises(
        AnobenchError, match="'ddpm' is registered twice: by distribution 'clashing-plugin'.* and by 'anobench'"
    ):
        registry.methods.get("ddpm")
