"""Our forward against diffusers' WanTransformer3DModel with the same random weights."""
import pytest
import torch
import torch.nn.functional as F

from echo_stream.engine.keymap import original_to_diffusers
from tiny import TINY, latent, text, tiny_model

diffusers = pytest.importorskip("diffusers", reason="diffusers is the reference implementation (test extra)")


def reference_model(ours, cfg=TINY):
    ref = diffusers.WanTransformer3DModel(
        patch_size=cfg.patch_size, num_attention_heads=cfg.num_heads, attention_head_dim=cfg.head_dim,
        in_channels=cfg.in_dim, out_channels=cfg.out_dim, text_dim=cfg.text_dim, freq_dim=cfg.freq_dim,
        ffn_dim=cfg.ffn_dim, num_layers=cfg.num_layers, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=cfg.eps,
    ).eval()
    converted = {original_to_diffusers(k): v for k, v in ours.dit.state_dict().items()}
    assert None not in converted
    ref.load_state_dict(converted, strict=True)
    return ref


def rel_err(a, b):
    return ((a - b).abs().max() / b.abs().max()).item()


@pytest.mark.parametrize("tokens", [TINY.text_len, 5])
def test_bidirectional_forward_matches_diffusers(tokens):
    ours = tiny_model()
    ref = reference_model(ours)
    x, cond, t = latent(5, seed=3, batch=2), text(tokens, batch=2), torch.tensor([937.5, 250.0])
    padded = F.pad(cond, (0, 0, 0, TINY.text_len - tokens))  # Wan pads the text to 512 rows with zeros
    with torch.no_grad():
        got = ours.forward_full(x, t, cond)
        want = ref(x, t, padded).sample
    assert got.shape == want.shape == x.shape
    assert rel_err(got, want) <= 1e-4


def test_per_frame_timesteps_match_diffusers_per_token_timesteps():
    ours = tiny_model(seed=4)
    ref = reference_model(ours)
    x, cond = latent(6, seed=5), text(9)
    t_frames = torch.tensor([[1000.0, 1000.0, 1000.0, 625.0, 625.0, 0.0]])
    frame_tokens = (x.shape[3] // 2) * (x.shape[4] // 2)
    with torch.no_grad():
        got = ours.forward_full(x, t_frames, cond)
        want = ref(x, t_frames.repeat_interleave(frame_tokens, dim=1),
                   F.pad(cond, (0, 0, 0, TINY.text_len - 9))).sample
    assert rel_err(got, want) <= 1e-4


def test_a_wrong_mapping_is_detected():
    """Guard for the test itself: swapping norm2/norm3 semantics must break parity."""
    ours = tiny_model()
    ref = reference_model(ours)
    with torch.no_grad():
        ref.blocks[0].norm2.weight.mul_(1.5)
        x, cond = latent(3), text(4)
        assert rel_err(ours.forward_full(x, 500.0, cond), ref(x, torch.tensor([500.0]),
                       F.pad(cond, (0, 0, 0, TINY.text_len - 4))).sample) > 1e-3
