import pytest
import torch

from echo_stream.engine.rope import (RotaryEmbedding, apply_rotary, axis_dims, grid_positions, rotate_in_place,
                                     rotate_pairs_real)


def complex_reference(x, positions, head_dim):
    """Wan's own formulation: per-axis complex frequencies, x viewed as complex pairs."""
    parts = []
    for axis, d in enumerate(axis_dims(head_dim)):
        omega = 10000.0 ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
        angles = positions[:, axis, None].double() * omega
        parts.append(torch.polar(torch.ones_like(angles), angles))
    freqs = torch.cat(parts, dim=1)  # [N, D/2] complex
    xc = torch.view_as_complex(x.double().reshape(*x.shape[:-1], -1, 2))
    return torch.view_as_real(xc * freqs[None, :, None, :]).reshape(x.shape).float()


def test_axis_split_matches_wan():
    assert axis_dims(128) == (44, 42, 42)  # 22 / 21 / 21 complex pairs


def test_rotation_matches_complex_formulation():
    pos = torch.tensor([[0, 0, 0], [3, 1, 2], [20, 29, 51], [1000, 5, 7]])
    x = torch.randn(2, 4, 3, 128)
    rot = RotaryEmbedding(128).rotary(pos)
    torch.testing.assert_close(apply_rotary(x, rot), complex_reference(x, pos, 128), atol=2e-5, rtol=1e-5)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_complex_rotation_is_bit_identical_to_the_real_formula_at_wan_head_size(dtype):
    """The fast path (one complex multiply) computes the same products and sums as the real formula: at
    Wan's head_dim 128 the results are equal bit for bit, so the speed-up changes no output."""
    pos = grid_positions(list(range(21)), 6, 10)
    x = torch.randn(1, len(pos), 4, 128).to(dtype)
    rot = RotaryEmbedding(128).rotary(pos)
    assert torch.equal(apply_rotary(x, rot), rotate_pairs_real(x, rot))


@pytest.mark.parametrize("head_dim,dtype", [(128, torch.float32), (128, torch.bfloat16), (24, torch.float32)])
def test_rotating_a_work_buffer_in_place_gives_the_real_formulas_values(head_dim, dtype):
    pos = grid_positions(list(range(5)), 2, 3)
    x = torch.randn(1, len(pos), 2, head_dim).to(dtype)
    rot = RotaryEmbedding(head_dim).rotary(pos)
    buffer = x.clone()
    assert rotate_in_place(buffer, rot) is buffer
    assert torch.equal(buffer, rotate_pairs_real(x, rot))


def test_logits_depend_only_on_position_difference():
    rope = RotaryEmbedding(24)
    q, k = torch.randn(1, 1, 1, 24), torch.randn(1, 1, 1, 24)

    def logit(pq, pk):
        rq = apply_rotary(q, rope.rotary(torch.tensor([pq])))
        rk = apply_rotary(k, rope.rotary(torch.tensor([pk])))
        return (rq * rk).sum()

    torch.testing.assert_close(logit([5, 2, 3], [1, 1, 1]), logit([45, 7, 9], [41, 6, 7]), atol=1e-5, rtol=1e-5)
    assert not torch.allclose(logit([5, 2, 3], [1, 1, 1]), logit([6, 2, 3], [1, 1, 1]))


def test_grid_positions_row_major():
    ids = grid_positions([7, 9], 2, 3)
    assert ids.shape == (12, 3)
    assert ids[0].tolist() == [7, 0, 0] and ids[4].tolist() == [7, 1, 1] and ids[11].tolist() == [9, 1, 2]
