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
    session.run(SceneScript.start(c, 0.75).then(b, 1.5, "recall", recall="1"))  # validated: index 1 is b
    pool = session.memory.pool
    assert [(e.scene_index, e.label) for e in pool.entries] == [(1, "b"), (2, "c")]
    assert pool.find(1).label == "b"
