"""Echo-Forcing's cache layout against the research notes' tables (§3.2 anchors, §4 RoPE ids, §6.3)."""
import pytest

from echo_stream.engine import EchoError
from echo_stream.memory.config import EchoConfig
from echo_helpers import scenes, scripted_run

# §3.2: anchor frame ids (slot 0 -> 11) right after the rolls of scene 1
ANCHOR_TABLE = {
    21: [3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 10, 9],
    24: [6, 7, 8, 9, 10, 11, 11, 10, 9, 8, 7, 6],
    27: [9, 10, 11, 11, 10, 9, 8, 7, 6, 5, 4, 3],
    30: [11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    33: [8, 7, 6, 5, 4, 3, 2, 1, 0, 0, 1, 2],
    42: list(range(12)),
    45: [3, 4, 5, 6, 7, 8, 9, 10, 11, 11, 10, 9],
}


@pytest.fixture(scope="module")
def long_scene():
    run, _ = scripted_run(scenes((0, 17, None, {})))
    return run.records


def test_anchor_order_table(long_scene):
    by_start = {3 * rec["block"]: rec for rec in long_scene}
    for start, anchors in ANCHOR_TABLE.items():
        assert by_start[start]["anchor_ids"] == anchors, start
    # the palindrome repeats every 8 blocks
    assert by_start[21]["anchor_ids"] == by_start[45]["anchor_ids"]


def test_rope_ids_during_growth_and_after_rolls(long_scene):
    for rec in long_scene:
        start = 3 * rec["block"]
        if start < 21:  # growth: ids = slots = frames so far, query at the tail
            assert rec["phase"] == "growth" and rec["key_frame_ids"] == list(range(start + 3))
            assert rec["query_frame_ids"] == [start, start + 1, start + 2]
        else:  # steady: anchors 0-11, compressed 12-14, recent 15-17, current 18-20
            assert rec["phase"] == "steady" and rec["key_frame_ids"] == list(range(21))
            assert rec["query_frame_ids"] == [18, 19, 20]
            assert rec["tokens"] == {"anchors": 72, "compressed": 18, "recent": 18, "current": 18, "old": 0}


def first_blocks(history):
    return {rec["scene"]: rec for rec in history if rec["transition"] is not None or rec["block"] == 0}


@pytest.fixture(scope="module")
def switched():
    plan = scenes((0, 9, None, {"label": "A"}), (1, 7, "smooth", {}), (2, 7, "cut", {}),
                  (0, 7, "recall", {"recall": "A"}))
    run, latents = scripted_run(plan)
    return run.records, latents


def test_first_block_after_smooth(switched):
    history, _ = switched
    rec = first_blocks(history)[1]
    # recall frame + 2 old recent frames at ids 0-2, the new block at slots 3-5, no jump
    assert rec["key_frame_ids"] == [0, 1, 2, 3, 4, 5] and rec["query_frame_ids"] == [3, 4, 5]
    assert rec["tokens"]["old"] == 3 * 6 and rec["jump"] == 0
    assert rec["old_scene"] == 0  # scene A's recall frame heads the staged memory


def test_first_block_after_cut(switched):
    history, _ = switched
    rec = first_blocks(history)[2]
    # one staged frame at id 0, the block jumped by +45 (keys and queries)
    assert rec["key_frame_ids"] == [0, 46, 47, 48] and rec["query_frame_ids"] == [46, 47, 48]
    assert rec["old_weight"] == pytest.approx(0.8)
    after = [r for r in history if r["scene"] == 2][1]
    assert after["tokens"]["old"] == 0 and after["key_frame_ids"] == list(range(6))  # evicted after 1 block


def test_first_block_after_recall(switched):
    history, _ = switched
    rec = first_blocks(history)[3]
    jump = rec["jump"]
    assert 0 <= jump <= 6 and rec["old_scene"] == 0  # A, recalled by label
    assert rec["key_frame_ids"] == [0, 1 + jump, 2 + jump, 3 + jump]
    assert rec["query_frame_ids"] == [1 + jump, 2 + jump, 3 + jump]
    nxt = [r for r in history if r["scene"] == 3][1]
    assert nxt["key_frame_ids"] == list(range(7)) and nxt["query_frame_ids"] == [4, 5, 6]  # jump only once


def test_smooth_memory_decays_then_is_evicted(switched):
    history, _ = switched
    scene1 = [r for r in history if r["scene"] == 1]
    weights = [r["old_weight"] for r in scene1]
    assert weights[0] == pytest.approx(1.0)
    assert all(w is not None for w in weights[:5]) and weights[5] is None  # 5 blocks, then gone
    assert all(a > b for a, b in zip(weights[:4], weights[1:5]))
    assert scene1[5]["key_frame_ids"] == list(range(18))  # ids shift down by the 3 evicted frames


def test_recall_of_unknown_label_is_explained():
    plan = scenes((0, 2, None, {"label": "beach"}), (1, 2, "recall", {"recall": "forest"}))
    with pytest.raises(EchoError, match=r"cannot recall scene 'forest'.*\['beach'\]"):
        scripted_run(plan)


def test_a_block_run_again_after_an_interruption_rolls_the_anchors_once():
    import torch

    from echo_stream.engine import BlockEvent, BlockStreamer
    from echo_stream.memory import EchoForcingMemory
    from echo_helpers import SIZE
    from tiny import text, tiny_model

    memory = EchoForcingMemory()
    streamer = BlockStreamer(tiny_model(), memory, **SIZE)
    cond = text(4)
    with torch.no_grad():
        for _ in range(7):
            streamer.next_block(cond)
        event = BlockEvent(index=7, start_frame=21, num_frames=3, conditioning=cond)
        memory.begin_block(event)  # interrupted before the block finished ...
        streamer.next_block(cond)  # ... and generated again
    assert streamer.layout.anchor_ids == tuple(ANCHOR_TABLE[21])


def test_an_interrupted_steady_block_leaves_only_its_staging_behind():
    """Noisy passes read the memory and stage the block; only the clean pass's commit writes it."""
    import torch

    from echo_stream.engine import BlockEvent, BlockStreamer
    from echo_stream.memory import EchoConfig, EchoForcingMemory
    from echo_helpers import SIZE
    from tiny import latent, text, tiny_model

    model, cond = tiny_model(), text(4)
    config = EchoConfig(max_reuse=1)  # every selection counts: a stray count would change the next one
    whole, cut = EchoForcingMemory(config), EchoForcingMemory(config)
    a, b = BlockStreamer(model, whole, seed=4, **SIZE), BlockStreamer(model, cut, seed=4, **SIZE)
    with torch.no_grad():
        for _ in range(9):
            a.next_block(cond)
            b.next_block(cond)
        reuse = cut.scenes.reuse.clone()
        layout = cut.begin_block(BlockEvent(index=9, start_frame=27, num_frames=3, conditioning=cond))
        model.forward_block(latent(3, 4, 6, seed=8), 750.0, model.prepare_text(cond), cut, write=False)
        assert layout.steady and all(record.filled for record in layout.layers)
        assert torch.equal(cut.scenes.reuse, reuse)
        assert torch.equal(b.next_block(cond), a.next_block(cond))
        assert torch.equal(a.next_block(cond), b.next_block(cond))


def test_the_layout_is_frozen_and_each_layer_record_is_filled_once():
    import dataclasses

    import torch

    from echo_stream.engine import BlockStreamer, Recaching
    from echo_stream.engine.layout import ANCHOR, COMPRESSED, CURRENT, RING
    from echo_stream.memory import EchoForcingMemory, make_memory
    from echo_helpers import SIZE
    from tiny import text, tiny_model

    streamer = BlockStreamer(tiny_model(), EchoForcingMemory(), **SIZE)
    with torch.no_grad():
        for _ in range(8):
            streamer.next_block(text(4))
    layout = streamer.layout
    with pytest.raises(dataclasses.FrozenInstanceError):
        layout.phase = "growth"
    with pytest.raises(EchoError, match="filled once"):
        layout.layers[0].fill(selected=None)
    kinds = [s.kind for s in layout.sources]
    assert kinds == [ANCHOR] * 12 + [COMPRESSED] * 3 + [RING] * 3 + [CURRENT] * 3
    assert [s.frame for s in layout.sources if s.kind == RING] == [18, 19, 20]  # the newest before the block
    selected = layout.layers[0].selected
    assert selected.shape == (3 * 6,) and len(selected.unique()) == 3 * 6
    assert 0 < float(layout.layers[0].gate) <= 1
    # only policies with the re-cache capability make the stream keep clean frames
    assert not isinstance(streamer.memory, Recaching) and len(streamer.recent_latents) == 0
    longlive = BlockStreamer(tiny_model(), make_memory("longlive_recache"), **SIZE)
    with torch.no_grad():
        longlive.next_block(text(4))
    assert isinstance(longlive.memory, Recaching) and len(longlive.recent_latents) == 3


@pytest.mark.parametrize("options,message", [
    ({"anchor_frames": 10}, r"anchor_frames \(10\) must be a multiple of the block \(3 frames\)"),
    ({"recent_frames": 2}, r"compressed_frames \+ recent_frames \(3 \+ 2\) must be a multiple of the block "
                           r"\(3 frames\), so that the window \(20 frames\) is whole blocks; e\.g\. 3 \+ 3"),
    ({"compressed_frames": 4}, r"\(4 \+ 3\) must be a multiple .*; e\.g\. 4 \+ 5"),
])
def test_a_window_of_partial_blocks_is_refused_with_the_fix(options, message):
    """A window that is not whole blocks would start its steady phase before the scene's calibration (its
    first W frames) is done and roll its anchors past the pool: refused at setup, naming a setting that works."""
    with pytest.raises(EchoError, match=message):
        scripted_run(scenes((0, 1, None, {})), config=EchoConfig(**options))
