"""Block-by-block Wan 2.1 decode with a carried cache == diffusers' one-shot decode of the same latents."""
import pytest
import torch
from safetensors.torch import load_file, save_file

from echo_stream.vae import FeatureCache, StreamingDecoder, load_wan21_vae_decoder, pixel_frames_for
from echo_stream.vae.loader import VaeFileError

import diffusers  # noqa: E402,F401  (test extra: a missing one fails, never skips)
from tiny_vae import TINY_VAE, ours_from_reference, tiny_reference_vae  # noqa: E402

TOL = 1e-4
LATENT_FRAMES = 8


@pytest.fixture(scope="module")
def vaes():
    ref = tiny_reference_vae()
    return ref, ours_from_reference(ref)


@pytest.fixture(scope="module")
def latents_and_full(vaes):
    ref, _ = vaes
    z = torch.randn(1, TINY_VAE.z_dim, LATENT_FRAMES, 4, 6, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        full = ref.decode(z).sample
    # the comparison means something only if the reference is neither flat nor saturated
    assert full.std() > 0.1 and (full.abs() == 1).float().mean() < 0.05
    return z, full


def decode_blocks(decoder, z, sizes):
    start, pieces = 0, []
    for size in sizes:
        pieces.append(decoder.decode_all(z[:, :, start:start + size]))
        start += size
    assert start == z.shape[2]
    return torch.cat(pieces, dim=2)


@pytest.mark.parametrize("sizes", [[1] * LATENT_FRAMES, [3, 3, 2], [1, 3, 4], [LATENT_FRAMES]])
def test_block_by_block_equals_one_shot(vaes, latents_and_full, sizes):
    _, ours = vaes
    z, full = latents_and_full
    out = decode_blocks(StreamingDecoder(ours), z, sizes)
    assert out.shape == full.shape
    assert out.shape[2] == pixel_frames_for(LATENT_FRAMES) == 4 * LATENT_FRAMES - 3
    assert (out - full).abs().max().item() <= TOL


def test_block_frame_counts(vaes, latents_and_full):
    _, ours = vaes
    z, _ = latents_and_full
    decoder = StreamingDecoder(ours)
    first = decoder.decode_all(z[:, :, :3])
    second = decoder.decode_all(z[:, :, 3:6])
    assert first.shape[2] == pixel_frames_for(3, 0) == 9
    assert second.shape[2] == pixel_frames_for(3, 3) == 12
    assert decoder.cache.latent_frames == 6


def test_restarting_the_cache_at_a_block_leaves_a_seam(vaes, latents_and_full):
    """The check above can fail: decoding each block with a fresh cache (separate decodes) differs."""
    _, ours = vaes
    z, full = latents_and_full
    first = StreamingDecoder(ours).decode_all(z[:, :, :4])
    second = StreamingDecoder(ours).decode_all(z[:, :, 4:])
    assert second.shape[2] == 13  # a restarted video: its first latent gives one frame, not four
    assert (first - full[:, :, :13]).abs().max() <= TOL
    assert (second[:, :, 1:] - full[:, :, 17:]).abs().max() > 1e-2


def test_save_load_in_the_middle_and_two_runs(vaes, latents_and_full, tmp_path):
    """Run 1 decodes 3 latents, its state goes through a safetensors file; run 2 (a fresh decoder over a
    tree loaded from wan_2.1_vae.safetensors) continues with the rest."""
    _, ours = vaes
    z, full = latents_and_full
    run1 = StreamingDecoder(ours)
    part1 = decode_blocks(run1, z[:, :, :3], [2, 1])
    save_file(run1.state_dict(), str(tmp_path / "decoder_state.safetensors"))
    whole_vae = {k: v.contiguous() for k, v in ours.state_dict().items()}
    whole_vae.update({"encoder.conv1.weight": torch.zeros(8, 3, 3, 3, 3), "conv1.weight": torch.zeros(32, 32, 1, 1, 1)})
    save_file(whole_vae, str(tmp_path / "wan_2.1_vae.safetensors"))  # the encoder half is ignored
    del run1

    tree = load_wan21_vae_decoder(tmp_path / "wan_2.1_vae.safetensors")
    assert tree.config == TINY_VAE
    run2 = StreamingDecoder(tree)
    run2.load_state_dict(load_file(str(tmp_path / "decoder_state.safetensors")))
    part2 = decode_blocks(run2, z[:, :, 3:], [3, 2])
    out = torch.cat([part1, part2], dim=2)
    assert out.shape == full.shape
    assert (out - full).abs().max().item() <= TOL


def test_state_dict_round_trip_is_tensors_only():
    cache = FeatureCache()
    cache.slots = [None, "Rep", torch.ones(1, 2, 2, 3, 3)]
    cache.latent_frames = 5
    state = cache.state_dict()
    assert all(isinstance(v, torch.Tensor) for v in state.values())
    other = FeatureCache()
    other.load_state_dict(state)
    assert other.slots[0] is None and other.slots[1] == "Rep" and torch.equal(other.slots[2], cache.slots[2])
    assert other.latent_frames == 5
    with pytest.raises(ValueError, match="lacks"):
        other.load_state_dict({"slot_kinds": torch.tensor([2])})


def test_bad_inputs_have_clear_messages(vaes, tmp_path):
    ref, ours = vaes
    with pytest.raises(ValueError, match="16-channel"):
        next(StreamingDecoder(ours).decode(torch.zeros(1, 48, 1, 2, 2)))
    with pytest.raises(TypeError, match="not a Wan 2.1 VAE module tree"):
        StreamingDecoder(torch.nn.Linear(2, 2))
    with pytest.raises(VaeFileError, match="only .safetensors"):
        load_wan21_vae_decoder(tmp_path / "Wan2.1_VAE.pth")
    diffusers_layout = tmp_path / "diffusers_vae.safetensors"
    save_file({k: v.contiguous() for k, v in ref.state_dict().items()}, str(diffusers_layout))
    with pytest.raises(VaeFileError, match="diffusers' layout"):
        load_wan21_vae_decoder(diffusers_layout)
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(b"\x10\x00\x00\x00")
    with pytest.raises(VaeFileError, match="cannot read"):
        load_wan21_vae_decoder(truncated)


def test_decoding_in_another_dtype_than_the_weights(vaes, latents_and_full):
    """ComfyUI may keep weights in one dtype and decode in another: every conv casts its weights."""
    _, ours = vaes
    z, full = latents_and_full
    out = StreamingDecoder(ours, dtype=torch.float64).decode_all(z)
    assert out.dtype == torch.float64 and (out.float() - full).abs().max().item() <= TOL
