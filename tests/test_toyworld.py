"""The toy world: prompts, clips and their transitions, the renderer, and read-back on true frames."""
import pytest
import torch

from echo_stream.engine import EchoError
from echo_stream.toyworld import (CATEGORIES, Step, paint_frame, play, prompt_embedding, read_frames, render_rgb,
                                  sample_clip)
from echo_stream.toyworld.instances import Instance, Sprite
from echo_stream.toyworld.readback import read_motion
from echo_stream.toyworld.rollout import block_events, read_blocks, script_blocks


def test_prompt_embeddings_are_deterministic_and_distinct():
    a = prompt_embedding("ocean")
    assert a.shape == (1, 4, 4096)
    assert torch.equal(a, prompt_embedding(0)) and torch.equal(a, prompt_embedding(" Ocean "))
    flat = torch.stack([prompt_embedding(c).flatten() for c in CATEGORIES])
    cos = torch.nn.functional.cosine_similarity(flat[:, None], flat[None], dim=-1)
    assert (cos - torch.eye(len(CATEGORIES))).abs().max() < 0.1
    with pytest.raises(EchoError, match="choose one of ocean"):
        prompt_embedding("jungle")


def test_transitions_carry_cut_and_return_the_instance():
    clip = play([Step("start", "ocean", 2), Step("smooth", "lava", 2), Step("cut", "snow", 1),
                 Step("return", scene=0, blocks=1)], torch.Generator().manual_seed(5))
    inst, sprites = clip.block_instance, clip.sprites
    assert clip.block_category == [0, 0, 3, 3, 4, 0]
    assert inst[2] == inst[0]  # smooth: the instance carries ...
    assert sprites[6] == sprites[5].step(inst[0], 8, 8)  # ... and the sprite keeps moving
    assert inst[4] != inst[0] or sprites[12] != sprites[11].step(inst[0], 8, 8)  # a cut draws anew
    assert inst[5] == inst[0] and sprites[15] == sprites[5].step(inst[0], 8, 8)  # return: scene 0 resumes
    v = clip.visible
    assert v[3].tolist() == [True] * 4 + [False] * 2  # smooth and continuing blocks see their past
    assert v[4].tolist() == [False] * 4 + [True, False]  # a cut sees nothing before it
    assert v[5].all()  # a return sees everything before it
    mask = clip.token_mask(16)
    assert mask.shape == (18 * 16, 18 * 16) and mask[12 * 16, 11 * 16] == 0 and mask[12 * 16, 14 * 16]


def test_script_errors_name_the_problem():
    with pytest.raises(EchoError, match="earlier scene"):
        play([Step("start", "ocean"), Step("return", scene=3)])
    with pytest.raises(EchoError, match="begins with one 'start'"):
        play([Step("cut", "ocean")])


def test_readback_is_exact_on_true_frames():
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        clip = sample_clip(g, 7)
        r = read_frames(clip.latent)
        truth = [clip.scenes[s] for s in clip.block_scene for _ in range(3)]
        assert r.category.tolist() == [t.category for t in truth]
        assert r.palette.tolist() == [t.instance.palette for t in truth]
        assert r.pattern.tolist() == [t.instance.pattern for t in truth]
        assert [r.sprite(i) for i in range(len(r))] == clip.sprites
        assert r.residual.max() < 1e-6
        blocks = read_blocks(clip.latent)
        for j, b in enumerate(blocks):
            if clip.block_transition[j] == "continue" or j == 0:
                assert b.codes == clip.block_instance[j].codes and b.category == clip.block_category[j]


def test_readback_accuracy_under_noise():
    """Known accuracy on true frames with Gaussian noise added (std 0.5, half the code amplitude)."""
    g = torch.Generator().manual_seed(1)
    hits = {"category": 0, "palette": 0, "pattern": 0, "sprite": 0}
    n = 0
    for _ in range(20):
        clip = sample_clip(g, 7)
        r = read_frames(clip.latent + 0.5 * torch.randn(clip.latent.shape, generator=g))
        truth = [clip.scenes[s] for s in clip.block_scene for _ in range(3)]
        hits["category"] += sum(int(a) == t.category for a, t in zip(r.category, truth))
        hits["palette"] += sum(int(a) == t.instance.palette for a, t in zip(r.palette, truth))
        hits["pattern"] += sum(int(a) == t.instance.pattern for a, t in zip(r.pattern, truth))
        hits["sprite"] += sum(r.sprite(i) == s for i, s in enumerate(clip.sprites))
        n += len(r)
    acc = {k: v / n for k, v in hits.items()}
    assert acc["category"] == 1.0 and acc["palette"] == 1.0 and acc["pattern"] == 1.0, acc
    assert acc["sprite"] > 0.97, acc


def test_motion_reads_back_and_a_jump_is_no_motion():
    inst = Instance(1, 2, 3)
    frames = [paint_frame(0, inst, Sprite(2, 2))]
    frames.append(paint_frame(0, inst, Sprite(2, 2).step(inst, 8, 8)))
    frames.append(paint_frame(0, inst, Sprite(5, 6)))
    assert read_motion(read_frames(torch.stack(frames, 1)), 8, 8).tolist() == [3, -1]


def test_renderer_makes_pictures_of_the_categories():
    frames = torch.stack([paint_frame(c, Instance(0, 0, 0), Sprite(0, 0)) for c in range(len(CATEGORIES))], 1)
    rgb = render_rgb(frames)
    assert rgb.shape == (len(CATEGORIES), 64, 64, 3) and rgb.dtype == torch.uint8
    means = rgb[:, 16:, 16:].float().mean(dim=(1, 2))
    assert torch.cdist(means, means).add(torch.eye(len(CATEGORIES)) * 1e3).min() > 20  # distinct colours
    assert (rgb[:, :8, :8] > 200).all()  # the sprite is white


def test_script_events_follow_the_session_conventions():
    steps = [Step("start", "ocean", 2), Step("smooth", "lava"), Step("cut", "snow"), Step("return", scene=0)]
    assert [b.category for b in script_blocks(steps)] == [0, 0, 3, 4, 0]
    events = block_events(steps)
    assert events[0] == {"scene_index": 0, "extras": {"label": "s0"}} and events[1] == {}
    assert events[2]["transition"] == "smooth" and events[3]["transition"] == "cut"
    assert events[4] == {"transition": "recall", "scene_index": 3, "extras": {"label": "s0", "recall": "s0"}}


def test_new_scenes_read_their_instance_from_the_noise():
    from echo_stream.toyworld.instances import instance_from_noise

    noise = torch.randn(16, 12, 8, 8, generator=torch.Generator().manual_seed(9))
    clip = play([Step("start", "ocean", 2), Step("cut", "snow", 2)], noise=noise)
    for scene, first in ((0, 0), (1, 6)):
        instance, sprite = instance_from_noise(noise[:, first:first + 3])
        assert clip.scenes[scene].instance == instance and clip.sprites[first] == sprite
        # the choice is what the noise itself leans to: its sprite channels peak at the sprite
        assert noise[14:16, first].sum(0).argmax() == sprite.y * 8 + sprite.x
