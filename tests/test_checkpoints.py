"""Tiny checkpoints written in every supported layout load to identical parameters."""
import json
import pickle

import pytest
import torch
from safetensors.torch import save_file

from echo_stream.engine import CheckpointError, WanConfig, WanDiT, load_causal_wan, load_state_dict
from echo_stream.engine.checkpoint import read_raw
from echo_stream.engine.keymap import original_to_diffusers
from tiny import TINY, tiny_dit

HEADS = TINY.num_heads


@pytest.fixture(scope="module")
def weights():
    return {k: v.clone() for k, v in tiny_dit(seed=11).state_dict().items()}


def assert_same(sd, weights):
    assert set(sd) == set(weights)
    for k, v in weights.items():
        assert torch.equal(sd[k].float(), v.float()), k


def write_pt(path, obj):
    torch.save(obj, path)
    return path


LAYOUTS = {
    "self_forcing_ema": lambda w, d: write_pt(d / "self_forcing_dmd.pt", {"generator_ema": {"model." + k: v for k, v in w.items()}}),
    "longlive_generator": lambda w, d: write_pt(d / "longlive_base.pt", {"generator": {"model." + k: v for k, v in w.items()}, "step": torch.tensor(3)}),
    "fsdp_fragments": lambda w, d: write_pt(d / "fsdp.pt", {"generator": {
        "model._fsdp_wrapped_module." + k.replace("blocks.", "blocks._fsdp_wrapped_module.", 1): v for k, v in w.items()}}),
    "causvid_plain": lambda w, d: write_pt(d / "model.pt", {"generator": {"model." + k: v for k, v in w.items()}}),
    "original_safetensors": lambda w, d: save_file(w, d / "wan.safetensors") or d / "wan.safetensors",
    "comfyui_full": lambda w, d: save_file({"model.diffusion_model." + k: v for k, v in w.items()},
                                           d / "comfy.safetensors") or d / "comfy.safetensors",
    "diffusers_single": lambda w, d: save_file({original_to_diffusers(k): v for k, v in w.items()},
                                               d / "diffusers.safetensors") or d / "diffusers.safetensors",
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_every_layout_loads_identical_parameters(layout, weights, tmp_path):
    path = LAYOUTS[layout](weights, tmp_path)
    assert_same(load_state_dict(path), weights)
    model = load_causal_wan(path, num_heads=HEADS)
    assert_same(model.dit.state_dict(), weights)
    assert model.config == TINY.__class__(**{**TINY.__dict__, "text_len": 512})


def test_sharded_diffusers_folder(weights, tmp_path):
    folder = tmp_path / "Wan-Diffusers" / "transformer"
    folder.mkdir(parents=True)
    renamed = {original_to_diffusers(k): v for k, v in weights.items()}
    keys = sorted(renamed)
    shards = {"diffusion_pytorch_model-00001-of-00002.safetensors": keys[::2],
              "diffusion_pytorch_model-00002-of-00002.safetensors": keys[1::2]}
    for name, ks in shards.items():
        save_file({k: renamed[k] for k in ks}, folder / name)
    index = {"weight_map": {k: name for name, ks in shards.items() for k in ks}}
    (folder / "diffusion_pytorch_model.safetensors.index.json").write_text(json.dumps(index))
    assert_same(load_state_dict(tmp_path / "Wan-Diffusers"), weights)
    (folder / "diffusion_pytorch_model-00002-of-00002.safetensors").unlink()
    with pytest.raises(CheckpointError, match="shard .*00002-of-00002.* is missing"):
        load_state_dict(tmp_path / "Wan-Diffusers")


def test_ema_is_preferred_and_generator_on_request(weights, tmp_path):
    other = {k: v + 1 for k, v in weights.items()}
    path = write_pt(tmp_path / "both.pt", {"generator": {"model." + k: v for k, v in other.items()},
                                           "generator_ema": {"model." + k: v for k, v in weights.items()}})
    assert_same(load_state_dict(path), weights)
    assert_same(load_state_dict(path, prefer_ema=False), other)


def test_default_heads_are_128_wide(tmp_path):
    cfg = WanConfig(dim=256, ffn_dim=64, num_heads=2, num_layers=1, text_dim=8, freq_dim=8)
    save_file(WanDiT(cfg).state_dict(), tmp_path / "w.safetensors")
    model = load_causal_wan(tmp_path / "w.safetensors")
    assert (model.config.num_heads, model.config.head_dim, model.config.num_layers) == (2, 128, 1)


def test_storage_dtype(weights, tmp_path):
    path = LAYOUTS["original_safetensors"](weights, tmp_path)
    model = load_causal_wan(path, num_heads=HEADS, dtype=torch.bfloat16)
    assert {p.dtype for p in model.dit.parameters()} == {torch.bfloat16}
    assert model.dtype == torch.bfloat16


# ------------------------------------------------------------------------- LoRA
def lora_for(weights, rank=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    targets = [k[:-len(".weight")] for k in weights
               if k.startswith("blocks.") and k.endswith(".weight") and weights[k].dim() == 2]
    assert len(targets) == 10 * TINY.num_layers  # self q,k,v,o; cross q,k,v,o; ffn.0; ffn.2
    return {t: (torch.randn(rank, weights[t + ".weight"].shape[1], generator=g),
                torch.randn(weights[t + ".weight"].shape[0], rank, generator=g)) for t in targets}


def test_peft_lora_merges_as_w_plus_s_b_a(weights, tmp_path):
    lora = lora_for(weights)
    peft = {}
    for t, (a, b) in lora.items():
        peft[f"base_model.model.{t}.lora_A.weight"] = a
        peft[f"base_model.model.{t}.lora_B.weight"] = b
    ckpt = write_pt(tmp_path / "base.pt", {"generator": {"model." + k: v for k, v in weights.items()}})
    lora_path = write_pt(tmp_path / "lora.pt", {"generator_lora": peft, "critic_lora": {}, "step": 10})
    model = load_causal_wan(ckpt, num_heads=HEADS, lora=lora_path, lora_strength=0.7)
    merged = model.dit.state_dict()
    for k, v in weights.items():
        stem = k[:-len(".weight")]
        want = v + 0.7 * lora[stem][1] @ lora[stem][0] if stem in lora and k.endswith(".weight") else v
        torch.testing.assert_close(merged[k], want, atol=1e-5, rtol=1e-5)


def test_kohya_style_lora_with_alpha_and_diffusers_names(weights, tmp_path):
    lora = lora_for(weights, rank=2, seed=1)
    sd = {}
    for t, (a, b) in lora.items():
        name = original_to_diffusers(t + ".weight")[:-len(".weight")]
        sd[f"diffusion_model.{name}.lora_down.weight"] = a
        sd[f"diffusion_model.{name}.lora_up.weight"] = b
        sd[f"diffusion_model.{name}.alpha"] = torch.tensor(1.0)
    save_file(sd, tmp_path / "lora.safetensors")
    save_file(weights, tmp_path / "base.safetensors")
    merged = load_causal_wan(tmp_path / "base.safetensors", num_heads=HEADS,
                             lora=tmp_path / "lora.safetensors").dit.state_dict()
    t = "blocks.1.ffn.2"
    torch.testing.assert_close(merged[t + ".weight"], weights[t + ".weight"] + 0.5 * lora[t][1] @ lora[t][0])


def test_lora_for_another_model_size_is_rejected(weights, tmp_path):
    save_file(weights, tmp_path / "base.safetensors")
    save_file({"blocks.0.self_attn.q.lora_A.weight": torch.zeros(4, 99),
               "blocks.0.self_attn.q.lora_B.weight": torch.zeros(48, 4)}, tmp_path / "lora.safetensors")
    with pytest.raises(CheckpointError, match=r"lora.safetensors.*blocks.0.self_attn.q.weight.*do not fit"):
        load_causal_wan(tmp_path / "base.safetensors", num_heads=HEADS, lora=tmp_path / "lora.safetensors")


# ------------------------------------------------------------------------- bad files
def test_wrong_file_type(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(CheckpointError, match=r"notes.txt: unsupported file type '.txt'"):
        load_causal_wan(tmp_path / "notes.txt")


def test_not_a_wan_state_dict(tmp_path):
    save_file({"conv_in.weight": torch.zeros(4, 4), "down_blocks.0.weight": torch.zeros(2)}, tmp_path / "sd15.safetensors")
    with pytest.raises(CheckpointError, match=r"sd15.safetensors: not a Wan2.1 DiT.*conv_in.weight"):
        load_causal_wan(tmp_path / "sd15.safetensors")


@pytest.mark.parametrize("suffix", [".safetensors", ".pt"])
def test_truncated_file(weights, tmp_path, suffix):
    path = tmp_path / f"cut{suffix}"
    if suffix == ".pt":
        torch.save({"generator": weights}, path)
    else:
        save_file(weights, path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CheckpointError, match=r"cut\.(safetensors|pt).*truncated or corrupt"):
        load_causal_wan(path, num_heads=HEADS)


def test_pickled_objects_are_refused(tmp_path):
    path = tmp_path / "evil.pt"
    with open(path, "wb") as f:
        pickle.dump({"generator": {"x": WanConfig()}}, f, protocol=2)
    with pytest.raises(CheckpointError, match="evil.pt.*(refused|cannot be read)"):
        load_causal_wan(path)


TORCH_ADVICE = ("weights_only=False", "weights_only` set to `False`", "add_safe_globals", "safe_globals")


@pytest.mark.parametrize("content, kind", [
    (b"hello world\n", "neither torch.save's zip archive nor a pickle"),
    (b'{"generator": {}}\n', "neither torch.save's zip archive nor a pickle"),
    (b"0123456789", "neither torch.save's zip archive nor a pickle"),
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 5\n", "a Git LFS pointer"),
    (b"<!DOCTYPE html><html>Not found</html>", "a web page"),
    (b"", "empty"),
])
def test_a_file_that_is_no_checkpoint_is_named_so(tmp_path, content, kind):
    path = tmp_path / "renamed.pt"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=r"renamed\.pt: ") as err:
        load_causal_wan(path)
    assert kind in str(err.value) and "Python objects" not in str(err.value)
    assert not any(advice in str(err.value) for advice in TORCH_ADVICE)


@pytest.mark.parametrize("content, kind", [
    (b"version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 5\n", "a Git LFS pointer"),
    (b"<html><body>Sign in</body></html>", "a web page"),
])
def test_a_download_mistake_named_safetensors_is_named_so(tmp_path, content, kind):
    path = tmp_path / "wan.safetensors"
    path.write_bytes(content)
    with pytest.raises(CheckpointError, match=rf"wan.safetensors: not a safetensors file: {kind}"):
        load_causal_wan(path)


class Foreign:
    pass


@pytest.mark.parametrize("zipped", [True, False])
def test_foreign_objects_are_refused_without_torchs_unsafe_advice(weights, tmp_path, zipped):
    path = tmp_path / "foreign.pt"
    torch.save({"generator": weights, "extra": Foreign()}, path, _use_new_zipfile_serialization=zipped)
    with pytest.raises(CheckpointError, match=r"foreign.pt: refused to load: the file holds Python objects "
                                              r"beyond tensors \(test_checkpoints.Foreign\)") as err:
        load_causal_wan(path, num_heads=HEADS)
    assert not any(advice in str(err.value) for advice in TORCH_ADVICE)


@pytest.mark.parametrize("zipped", [True, False])
def test_a_checkpoint_cut_anywhere_is_called_truncated_never_foreign(tmp_path, zipped):
    path, cut = tmp_path / "whole.pt", tmp_path / "cut.pt"
    torch.save({"generator": {"blocks.0.w": torch.zeros(3, 3), "head.b": torch.ones(2)}}, path,
               _use_new_zipfile_serialization=zipped)
    data = path.read_bytes()
    for size in range(4, len(data), 1 if not zipped else 13):  # every cut of the legacy pickle (names cut too)
        cut.write_bytes(data[:size])
        with pytest.raises(CheckpointError, match=r"cut.pt: cannot be read as a PyTorch checkpoint \(truncated"):
            read_raw(cut)


def test_missing_unexpected_and_misshaped_tensors_are_listed(weights, tmp_path):
    broken = dict(weights)
    del broken["blocks.1.cross_attn.k.weight"]
    broken["blocks.0.extra.weight"] = torch.zeros(3)
    broken["blocks.0.ffn.2.bias"] = torch.zeros(7)
    save_file(broken, tmp_path / "broken.safetensors")
    with pytest.raises(CheckpointError) as err:
        load_causal_wan(tmp_path / "broken.safetensors", num_heads=HEADS)
    msg = str(err.value)
    assert "broken.safetensors" in msg and "missing 1: blocks.1.cross_attn.k.weight" in msg
    assert "unexpected 1: blocks.0.extra.weight" in msg and "blocks.0.ffn.2.bias (7,) (expected (48,))" in msg


def test_image_to_video_model_gets_a_hint(weights, tmp_path):
    save_file({**weights, "img_emb.proj.0.weight": torch.zeros(2)}, tmp_path / "i2v.safetensors")
    with pytest.raises(CheckpointError, match="image-to-video"):
        load_causal_wan(tmp_path / "i2v.safetensors", num_heads=HEADS)


def test_missing_file(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_causal_wan(tmp_path / "nope.safetensors")
