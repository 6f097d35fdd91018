"""Export for core's causal Wan: the written file's keys, metadata and dtype, and a round trip through
our loader that gives the weights the source loads to (LoRA merged). (The optional ComfyUI integration
test loads such a file with core's Load Diffusion Model and runs core's Sampler AR Video on it.)"""
import json

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import save_file

from echo_stream.__main__ import main as pack_main
from echo_stream.engine import CheckpointError, WanConfig, load_causal_wan, load_state_dict
from echo_stream.engine.export import core_transformer_config, export_for_core
from echo_stream.engine.keymap import original_to_diffusers
from echo_stream.nodes import NODE_CLASS_MAPPINGS, comfy
from tiny import TINY, tiny_dit

HEADS = TINY.num_heads
REAL_SIZES = WanConfig(dim=256, ffn_dim=64, num_heads=2, num_layers=1)  # 128-wide heads, text 4096, freq 256


@pytest.fixture(scope="module")
def weights():
    return {k: v.clone() for k, v in tiny_dit(seed=11).state_dict().items()}


def training_pt(path, ema, generator=None):
    data = {"generator_ema": {"model." + k: v for k, v in ema.items()}}
    if generator is not None:
        data["generator"] = {"model." + k: v for k, v in generator.items()}
    torch.save(data, path)
    return path


def peft_lora(weights, path, rank=3):
    g = torch.Generator().manual_seed(4)
    lora = {}
    for k, w in weights.items():
        if k.startswith("blocks.") and k.endswith(".weight") and w.dim() == 2:
            stem = k[: -len(".weight")]
            lora[f"base_model.model.{stem}.lora_A.weight"] = torch.randn(rank, w.shape[1], generator=g)
            lora[f"base_model.model.{stem}.lora_B.weight"] = torch.randn(w.shape[0], rank, generator=g)
    torch.save({"generator_lora": lora, "critic_lora": {}, "step": 5}, path)  # LongLive's lora.pt
    return path


def stored(path):
    with safe_open(str(path), framework="pt") as f:
        return {k: f.get_tensor(k) for k in f.keys()}, f.metadata()


def test_a_longlive_pt_with_its_lora_exports_to_the_merged_weights(weights, tmp_path):
    src = training_pt(tmp_path / "longlive_base.pt", weights)
    lora = peft_lora(weights, tmp_path / "lora.pt")
    report = export_for_core(src, tmp_path / "out" / "longlive.safetensors", lora=lora, lora_strength=0.5,
                             num_heads=HEADS)
    tensors, metadata = stored(report.path)
    assert set(tensors) == set(weights)  # original Wan names, no prefix: core's Wan detection reads them
    assert {t.dtype for t in tensors.values()} == {torch.float32}  # the stored dtype is kept
    merged = load_causal_wan(src, lora=lora, lora_strength=0.5, num_heads=HEADS).dit.state_dict()
    assert any(not torch.equal(merged[k], weights[k]) for k in weights)  # the LoRA changed something
    for k, v in merged.items():
        assert torch.equal(tensors[k], v), k
    # round trip: our loader reads the exported file back to the very same weights
    back = load_causal_wan(report.path, num_heads=HEADS).dit.state_dict()
    assert all(torch.equal(back[k], merged[k]) for k in merged)
    config = json.loads(metadata["config"])
    assert config == {"transformer": {"causal_ar": True, "num_heads": HEADS, "freq_dim": TINY.freq_dim,
                                      "text_dim": TINY.text_dim}}
    provenance = json.loads(metadata["echo_stream_export"])
    assert provenance["source"] == "longlive_base.pt" and provenance["lora"] == "lora.pt"
    assert provenance["lora_strength"] == 0.5 and not (tmp_path / "out" / "longlive.safetensors.part").exists()


def test_real_sizes_carry_only_causal_ar():
    # 1.3B/14B: 128-wide heads, umT5 4096-dim text, 256 frequencies are what core assumes anyway; any other
    # key would become an argument of core's model constructor
    assert core_transformer_config(REAL_SIZES) == {"causal_ar": True}
    assert core_transformer_config(WanConfig()) == {"causal_ar": True}
    assert core_transformer_config(WanConfig(dim=5120, ffn_dim=13824, num_heads=40, num_layers=40)) == {"causal_ar": True}


def test_bf16_export_and_a_diffusers_source(weights, tmp_path):
    save_file({original_to_diffusers(k): v for k, v in weights.items()}, tmp_path / "diffusers.safetensors")
    report = export_for_core(tmp_path / "diffusers.safetensors", tmp_path / "wan_bf16.safetensors",
                             dtype=torch.bfloat16, num_heads=HEADS)
    tensors, _ = stored(report.path)
    assert report.dtype == "bfloat16" and {t.dtype for t in tensors.values()} == {torch.bfloat16}
    assert all(torch.equal(tensors[k], v.to(torch.bfloat16)) for k, v in weights.items())
    assert set(load_state_dict(report.path)) == set(weights)


def test_non_ema_weights_on_request(weights, tmp_path):
    other = {k: v + 1 for k, v in weights.items()}
    src = training_pt(tmp_path / "causal_forcing.pt", ema=weights, generator=other)  # Causal Forcing's layout
    ema = stored(export_for_core(src, tmp_path / "ema.safetensors", num_heads=HEADS).path)[0]
    gen = stored(export_for_core(src, tmp_path / "gen.safetensors", prefer_ema=False, num_heads=HEADS).path)[0]
    assert all(torch.equal(ema[k], weights[k]) and torch.equal(gen[k], other[k]) for k in weights)


def test_refusals_name_the_problem(weights, tmp_path):
    src = training_pt(tmp_path / "sf.pt", weights)
    with pytest.raises(CheckpointError, match=r"must end in \.safetensors"):
        export_for_core(src, tmp_path / "out.pt", num_heads=HEADS)
    (tmp_path / "taken.safetensors").write_bytes(b"keep me")
    with pytest.raises(CheckpointError, match="already exists; choose another name"):
        export_for_core(src, tmp_path / "taken.safetensors", num_heads=HEADS)
    assert (tmp_path / "taken.safetensors").read_bytes() == b"keep me"
    with pytest.raises(CheckpointError, match="non-EMA weights .* only 'generator_ema'"):
        export_for_core(src, tmp_path / "x.safetensors", prefer_ema=False, num_heads=HEADS)
    assert not (tmp_path / "x.safetensors").exists()


def test_the_cli_exports_and_reports(weights, tmp_path, capsys):
    src = training_pt(tmp_path / "sf.pt", weights)
    out = tmp_path / "for_core.safetensors"
    assert pack_main(["export", str(src), str(out), "--dtype", "fp16", "--num-heads", str(HEADS)]) == 0
    assert {t.dtype for t in stored(out)[0].values()} == {torch.float16}
    assert "causal_ar" in capsys.readouterr().err
    assert pack_main(["export", str(src), str(out), "--num-heads", str(HEADS)]) == 2  # exists
    assert "already exists" in capsys.readouterr().err
    assert pack_main(["export", str(tmp_path / "missing.pt"), str(tmp_path / "m.safetensors")]) == 2
    assert "no such file" in capsys.readouterr().err


def test_the_node_writes_inside_diffusion_models(tmp_path, monkeypatch):
    models = tmp_path / "models" / "diffusion_models"
    models.mkdir(parents=True)
    save_file(tiny_dit(seed=3, cfg=REAL_SIZES).state_dict(), models / "self_forcing.safetensors")
    monkeypatch.setattr(comfy, "model_folder", lambda folder: str(tmp_path / "models" / folder))
    monkeypatch.setattr(comfy, "full_path", lambda folder, name: str(tmp_path / "models" / folder / name))
    node = NODE_CLASS_MAPPINGS["EchoExportForCore"]()
    out = node.export("self_forcing.safetensors", "EMA when present", "none", 1.0, "bf16", "sub/for core")
    assert out["result"] == ("sub/for core.safetensors",)
    tensors, metadata = stored(models / "sub" / "for core.safetensors")
    assert json.loads(metadata["config"]) == {"transformer": {"causal_ar": True}}
    assert "sub/for core.safetensors" in out["ui"]["text"][0]
    for bad in ("../escape", "/abs/../../x"):
        with pytest.raises(Exception, match=r"\.\."):
            node.export("self_forcing.safetensors", "EMA when present", "none", 1.0, "keep", bad)
    assert not (tmp_path / "models" / "escape.safetensors").exists()


def test_the_node_writes_into_models_diffusion_models_not_the_legacy_unet_folder(monkeypatch):
    class FolderPaths:  # ComfyUI lists models/unet before models/diffusion_models
        @staticmethod
        def get_folder_paths(folder):
            return ["/base/models/unet", "/base/models/diffusion_models/"]

    monkeypatch.setattr(comfy, "folder_paths", lambda: FolderPaths)
    assert comfy.model_folder("diffusion_models") == "/base/models/diffusion_models/"
    assert comfy.model_folder("unet") == "/base/models/unet"
