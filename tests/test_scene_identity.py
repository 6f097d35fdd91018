"""Scene identity comes from the caller: the memory's scene indices are the session's (issue 11, defect 2)."""
import pytest
import torch

from echo_stream.runtime.memory_choice import MemoryChoice
from echo_stream.runtime.script import SceneScript
from echo_stream.runtime.session import Session, SessionSpec
from tiny import text, tiny_model

SIZE = dict(width=48, height=32)


class FailOnce:
    """A model whose first block fails (as an out-of-memory or an interrupt would), then works."""

    def __init__(self, model):
        self.model, self.failed = model, False

    def __getattr__(self, name):
        return getattr(self.model, name)

    def forward_block(self, *args, **kwargs):
        if not self.failed:
            self.failed = True
            raise RuntimeError("first block fails")
        return self.model.forward_block(*args, **kwargs)


@torch.no_grad()
def test_recall_by_index_after_a_failed_first_block_recalls_the_validated_scene():
    a, b, c = text(5, seed=31), text(5, seed=32), text(5, seed=33)
    session = Session("s", FailOnce(tiny_model()), SessionSpec(**SIZE, memory=MemoryChoice("echo_forcing")))
    with pytest.raises(RuntimeError, match="first block fails"):
        session.run(SceneScript.start(a, 1.5, label="a"))
    assert [r.index for r in session.scenes] == [0]  # scene a exists for the session, without blocks
    session.run(SceneScript.start(b, 1.5, label="b").then(c, 1.5, "cut", label="c"))
    assert [(r.index, r.label) for r in session.scenes] == [(0, "a"), (1, "b"), (2, "c")]
    layouts = []
    session.run(SceneScript.start(c, 0.75).then(b, 1.5, "recall", recall="1"),  # validated: index 1 is b
                on_block=lambda report: layouts.append(session.streamer.layout))
    pool = session.memory.pool
    assert [(e.scene_index, e.label) for e in pool.entries] == [(1, "b"), (2, "c")]
    recall = layouts[1]
    assert recall.transition == "recall" and recall.scene == 3 and recall.old_scene == 1  # b's recall frame


@torch.no_grad()
@pytest.mark.parametrize("target", [0, 1])
def test_recall_by_similarity_uses_the_callers_prompt_feature(target):
    from echo_stream.engine import BlockStreamer
    from echo_stream.memory import make_memory

    features = torch.eye(4)[:3]  # scenes 0, 1 and the recalling scene 2's own
    streamer = BlockStreamer(tiny_model(), make_memory("echo_forcing"), **SIZE)
    for scene, transition in ((0, None), (1, "cut")):
        for j in range(2):
            streamer.next_block(text(5, seed=40 + scene), transition=transition if j == 0 else None,
                                scene_index=scene, prompt_feature=features[scene])
    # a prompt whose own conditioning says nothing; the feature names the scene to come back to
    streamer.next_block(text(5, seed=50), transition="recall", scene_index=2, prompt_feature=features[target] + 0.01)
    assert streamer.layout.old_scene == target
    assert [e.scene_index for e in streamer.memory.pool.entries] == [0, 1]
