"""Drift-gated phase compression, against a literal transcription of the notes' §3.3 formula."""
import math

import pytest
import torch

from echo_stream.memory.compression import (QueryCalibration, as_pairs, drift_gate, magnitude_term,
                                            mean_phase_scores, mean_phase_weight, phase_rotations, phase_scores,
                                            select_top)

HEADS, HEAD_DIM = 2, 24  # RoPE split 8/8/8 -> 4 temporal pairs
PT = 4


def literal_scores(keys, distances, q_mean, abs_mean, gate, offsets, fusion="sum"):
    """Loop-by-loop: base(h, d) = sum_t A cos(w (D + d) + phi) + sum_s A cos(phi); extra = sum (m - |q|)|k|."""
    frames, tokens = keys.shape[:2]
    out = torch.zeros(frames, tokens, dtype=torch.float64)
    kc = as_pairs(keys).to(torch.complex128)
    q = q_mean.to(torch.complex128)
    for f in range(frames):
        for t in range(tokens):
            per = []
            for h in range(HEADS):
                amp = (q[h].abs() * kc[f, t, h].abs())
                phi = torch.angle(q[h] * kc[f, t, h].conj())
                extra = float(((abs_mean[h].double() - q[h].abs()) * kc[f, t, h].abs()).sum())
                for d in offsets:
                    s = 0.0
                    for p in range(HEAD_DIM // 2):
                        if p < PT:
                            w = 10000.0 ** (-p / PT)
                            s += float(amp[p]) * math.cos(w * (float(distances[f]) + d) + float(phi[p]))
                        else:
                            s += float(amp[p]) * math.cos(float(phi[p]))
                    per.append(s + gate * extra)
            out[f, t] = max(per) if fusion == "max" else sum(per) / len(per)
    return out


@pytest.mark.parametrize("fusion", ["sum", "max"])
def test_scores_match_the_literal_formula(fusion):
    g = torch.Generator().manual_seed(0)
    keys = torch.randn(3, 5, HEADS, HEAD_DIM, generator=g)
    q_mean = torch.randn(HEADS, HEAD_DIM // 2, dtype=torch.complex64, generator=g)
    abs_mean = q_mean.abs() + torch.rand(HEADS, HEAD_DIM // 2, generator=g)
    distances = torch.tensor([9, 6, 4])
    got = phase_scores(keys, distances, q_mean, abs_mean, 0.7, (1, 2, 4, 8, 16), fusion)
    want = literal_scores(keys, distances, q_mean, abs_mean, 0.7, (1, 2, 4, 8, 16), fusion)
    torch.testing.assert_close(got.double(), want, atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("compensate", [True, False])
def test_scores_from_kept_magnitudes_and_a_mean_weight_match_the_literal_formula(compensate):
    """The selector's default path: magnitude term per token (kept), phase part as one dot product with the
    offset-averaged weight; the same scores as the literal mean over offsets and heads."""
    g = torch.Generator().manual_seed(0)
    keys = torch.randn(3, 5, HEADS, HEAD_DIM, generator=g)
    q_mean = torch.randn(HEADS, HEAD_DIM // 2, dtype=torch.complex64, generator=g)
    abs_mean = q_mean.abs() + torch.rand(HEADS, HEAD_DIM // 2, generator=g)
    distances, offsets = torch.tensor([9, 6, 4]), (1, 2, 4, 8, 16)
    weight = mean_phase_weight(q_mean, phase_rotations(distances, offsets, HEAD_DIM, "cpu").mean(dim=1))
    magnitude = magnitude_term(keys, q_mean, abs_mean) if compensate else None
    got = mean_phase_scores(keys, weight, magnitude, torch.tensor(0.7, dtype=torch.float64))
    want = literal_scores(keys, distances, q_mean, abs_mean, 0.7 if compensate else 0.0, offsets)
    torch.testing.assert_close(got.double(), want, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(got, phase_scores(keys, distances, q_mean, abs_mean, 0.7, offsets, "sum", compensate),
                               atol=1e-5, rtol=1e-5)


def test_keys_phase_aligned_with_the_query_at_future_offsets_are_selected():
    """Aligned keys: arg(q conj k) = -w (D + d) at the middle offset, so cos ~ 1 over the offsets;
    anti-aligned keys get the opposite phase. Same magnitudes, so only the phase decides."""
    g = torch.Generator().manual_seed(1)
    offsets = (1, 2)
    q_mean = torch.polar(torch.ones(HEADS, HEAD_DIM // 2), torch.rand(HEADS, HEAD_DIM // 2, generator=g) * 6)
    frames, tokens = 4, 6
    distances = torch.tensor([12, 9, 6, 3])
    keys_c = torch.zeros(frames, tokens, HEADS, HEAD_DIM // 2, dtype=torch.complex64)
    good = torch.zeros(frames * tokens, dtype=torch.bool)
    good[torch.randperm(frames * tokens, generator=g)[:7]] = True
    good = good.view(frames, tokens)
    omega = 10000.0 ** (-torch.arange(HEAD_DIM // 2) / PT)
    for f in range(frames):
        target = torch.zeros(HEAD_DIM // 2)
        target[:PT] = -omega[:PT] * (distances[f] + 1.5)  # aligned at the offsets' centre
        for t in range(tokens):
            phase = torch.angle(q_mean) - target.unsqueeze(0) + (0 if good[f, t] else math.pi)
            keys_c[f, t] = torch.polar(torch.ones(HEADS, HEAD_DIM // 2), phase)  # arg(q conj k) = target (+pi)
    keys = torch.view_as_real(keys_c).reshape(frames, tokens, HEADS, HEAD_DIM)
    scores = phase_scores(keys, distances, q_mean, q_mean.abs(), 1.0, offsets)
    chosen = select_top(scores, int(good.sum()))
    assert set(chosen.tolist()) == set(good.flatten().nonzero().flatten().tolist())
    assert chosen.tolist() == sorted(chosen.tolist())  # chronological order


def test_drift_gate_is_one_without_drift_and_falls_with_drift():
    g = torch.Generator().manual_seed(2)
    q = torch.randn(HEADS, HEAD_DIM // 2, dtype=torch.complex64, generator=g)
    assert float(drift_gate(q, q, 3.0)) == pytest.approx(1.0)
    assert float(drift_gate(2.5 * q, q, 3.0)) == pytest.approx(1.0)  # scale is not drift
    noise = torch.randn(HEADS, HEAD_DIM // 2, dtype=torch.complex64, generator=g)
    gates = [float(drift_gate(q + a * noise, q, 3.0)) for a in (0.0, 0.3, 1.0, 3.0, 10.0)]
    assert all(a > b for a, b in zip(gates, gates[1:]))
    assert float(drift_gate(-q, q, 3.0)) == pytest.approx(math.exp(-6.0))  # opposite direction: exp(-2 lambda)


def test_reuse_limit_excludes_tokens():
    scores = torch.tensor([[5.0, 4.0, 3.0, 2.0]])
    blocked = torch.tensor([[True, False, False, False]])
    assert select_top(scores, 2, blocked).tolist() == [1, 2]


def test_calibration_means():
    cal = QueryCalibration(1, HEADS, HEAD_DIM, "cpu")
    q1, q2 = torch.randn(1, 3, HEADS, HEAD_DIM), torch.randn(2, 4, HEADS, HEAD_DIM)
    cal.add(0, q1)
    cal.add(0, q2)
    cal.finalise()
    allq = torch.cat([as_pairs(q1).reshape(-1, HEADS, HEAD_DIM // 2), as_pairs(q2).reshape(-1, HEADS, HEAD_DIM // 2)])
    torch.testing.assert_close(cal.mean[0], allq.mean(0))
    torch.testing.assert_close(cal.abs_mean[0], allq.abs().mean(0))
    assert bool((cal.abs_mean[0] >= cal.mean[0].abs() - 1e-6).all())  # so the compensation is >= 0
