import torch

from anobench.diffusion.checkpoint import load_model
from anobench.diffusion.presets import build_unet, get_preset


def released_layout(state):
    """A MONAI-Generative-era state dict, as the THOR code saved it."""
    old = {}
    for key, value in state.items():
        key = key.replace(".attn.to_q.", ".to_q.").replace(".attn.to_k.", ".to_k.").replace(".attn.to_v.", ".to_v.")
        key = key.replace(".attn.out_proj.", ".proj_attn.").replace("postconv", "conv")
        old["unet." + key] = value
    old["l_pips_sq.net.slice1.0.weight"] = torch.zeros(64, 3, 3, 3)
    return {"model_weights": old, "optimizer_weights": {}, "epoch": 1499}


def test_released_checkpoint_in_old_key_names_is_converted(tmp_path, cli):
    torch.manual_seed(1)
    unet = build_unet(get_preset("cpu-small"))
    state = unet.state_dict()
    released = released_layout(state)
    assert any(".proj_attn." in key for key in released["model_weights"])  # the fixture really is old-style
    source, out = tmp_path / "best_model.pt", tmp_path / "imported.pt"
    torch.save(released, source)
    result = cli(
        "import-checkpoint",
        str(source),
        "--format",
        "thor-release",
        "--out",
        str(out),
        "--preset",
        "cpu-small",
        "--noise",
        "simplex",
        "--input-range",
        "0,1",
    )
    assert result.returncode == 0, result.stderr
    model, provenance = load_model(out, torch.device("cpu"))
    for key, value in model.unet.state_dict().items():
        torch.testing.assert_close(value, state[key], rtol=0, atol=0)
    assert model.input_range == (0.0, 1.0) and model.noise == "simplex"
    x = torch.rand(1, 1, 4, 4)
    torch.testing.assert_close(model.to_model_range(x), x)  # fed [0, 1] as the released evaluation did
    default = tmp_path / "default-range.pt"
    assert cli("import-checkpoint", str(source), "--out", str(default), "--preset", "cpu-small").returncode == 0
    torch.testing.assert_close(load_model(default, torch.device("cpu"))[0].to_model_range(x), 2 * x - 1)
    assert provenance["training"]["source_format"] == "thor-release" and provenance["training"]["epoch"] == 1499


def test_wrong_preset_or_foreign_file_is_one_clear_line(tmp_path, cli):
    unet = build_unet(get_preset("cpu-small"))
    source = tmp_path / "best_model.pt"
    torch.save(released_layout(unet.state_dict()), source)
    result = cli("import-checkpoint", str(source), "--out", str(tmp_path / "x.pt"), "--preset", "paper")
    assert result.returncode == 2 and "does not fit the 'paper' UNet" in result.stderr
    torch.save({"weights": {}}, tmp_path / "foreign.pt")
    result = cli("import-checkpoint", str(tmp_path / "foreign.pt"), "--out", str(tmp_path / "y.pt"))
    assert result.returncode == 2 and "no `model_weights`" in result.stderr
    assert not (tmp_path / "x.pt").exists() and not (tmp_path / "y.pt").exists()
