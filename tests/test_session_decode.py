"""A session's decode state saved compactly (the last latents, not the cache) continues exactly."""
import pytest
import torch
from safetensors.torch import load_file, save_file

from echo_stream.runtime.state_io import join, split
from echo_stream.runtime.stream_decode import SessionDecode
from echo_stream.vae.streaming import lookback_latents

import av  # noqa: E402,F401  (test extra: a missing one fails, never skips)
import diffusers  # noqa: E402,F401  (test extra: a missing one fails, never skips)
from tiny_vae import ours_from_reference, tiny_reference_vae  # noqa: E402

BLOCKS_BEFORE, BLOCKS_AFTER = 12, 3  # 36 latents before the save: more than the receptive field (31)


@pytest.fixture(scope="module")
def setup():
    ref = tiny_reference_vae()
    ours = ours_from_reference(ref)
    z = torch.randn(1, 16, 3 * (BLOCKS_BEFORE + BLOCKS_AFTER), 2, 2, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        full = ref.decode(z).sample
    return ours, z, full


def last_frame_of_each_latent(full, first, count):
    """Latent t > 0 decodes to pixel frames 4t-3 .. 4t; latent 0 to frame 0."""
    images = ((full[0].clamp(-1, 1) + 1) / 2).permute(1, 2, 3, 0)
    return torch.stack([images[0 if t == 0 else 4 * t] for t in range(first, first + count)])


def test_saved_tail_rebuilds_the_cache_exactly(setup, tmp_path):
    ours, z, full = setup
    assert lookback_latents(ours) == 31 < 3 * BLOCKS_BEFORE
    run1 = SessionDecode("s.mp4", every=1)
    run1.open_in(tmp_path)
    for b in range(BLOCKS_BEFORE):
        run1.add_block(ours, z[:, :, 3 * b:3 * b + 3])
    run1.close()
    tensors = {}
    meta = split(run1.state_dict(), tensors, "decode")
    assert list(tensors) == ["decode.tail"] and tensors["decode.tail"].shape[2] == 31  # a few latents, no cache
    save_file(tensors, str(tmp_path / "decode.safetensors"))

    run2 = SessionDecode.from_state_dict(join(meta, load_file(str(tmp_path / "decode.safetensors"))))
    run2.open_in(tmp_path)
    previews = [run2.add_block(ours, z[:, :, 3 * b:3 * b + 3]) for b in range(BLOCKS_BEFORE, BLOCKS_BEFORE + BLOCKS_AFTER)]
    run2.close()
    expected = last_frame_of_each_latent(full, 3 * BLOCKS_BEFORE, 3 * BLOCKS_AFTER)
    assert (torch.cat(previews) - expected).abs().max().item() <= 1e-4 / 2  # pixels in [0, 1] are halved
    assert run2.latent_frames == z.shape[2]


def test_a_tail_shorter_than_the_field_would_show(setup, tmp_path):
    """The check above can fail: rebuilding from fewer latents than the receptive field differs."""
    ours, z, full = setup
    decode = SessionDecode("short.mp4", every=1)
    decode.open_in(tmp_path)
    for b in range(BLOCKS_BEFORE):
        decode.add_block(ours, z[:, :, 3 * b:3 * b + 3])
    decode.close()
    state = decode.state_dict()
    state["tail"] = state["tail"][:, :, -20:]
    short = SessionDecode.from_state_dict(state)
    short.open_in(tmp_path)
    preview = short.add_block(ours, z[:, :, 3 * BLOCKS_BEFORE:3 * BLOCKS_BEFORE + 3])
    expected = last_frame_of_each_latent(full, 3 * BLOCKS_BEFORE, 3)
    assert (preview - expected).abs().max().item() > 1e-3


def test_a_state_without_its_tail_is_refused():
    with pytest.raises(ValueError, match="no tail"):
        SessionDecode.from_state_dict({"video": "s.mp4", "every": 1, "latent_frames": 9, "tail": None, "pending": []})
    with pytest.raises(ValueError, match="lacks"):
        SessionDecode.from_state_dict({"video": "s.mp4"})
    with pytest.raises(ValueError, match="plain file name"):
        SessionDecode("../escape.mp4")
