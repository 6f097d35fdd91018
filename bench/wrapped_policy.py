"""A memory policy that wraps another and sees every layer's context and commit (benchmark probes)."""
from __future__ import annotations

from abc import abstractmethod

import loadpack  # noqa: F401
from echo_stream.engine import LayerMemory, MemoryPolicy


class WrappedPolicy(MemoryPolicy):
    """Delegates the whole lifecycle to `inner`; subclasses give the per-layer wrapper (`wrap_layer`)."""

    def __init__(self, inner: MemoryPolicy):
        self.inner = inner

    @abstractmethod
    def wrap_layer(self, index: int) -> LayerMemory:
        """The per-layer wrapper that sees layer `index`'s context and commit."""

    def setup(self, geometry):
        self.geometry = geometry
        self.inner.setup(geometry)
        self._layers = [self.wrap_layer(i) for i in range(geometry.num_layers)]

    def begin_block(self, event):
        return self.inner.begin_block(event)

    def end_block(self):
        self.inner.end_block()

    def layer(self, i):
        return self._layers[i]

    def tensors(self):
        return self.inner.tensors()

    def state_dict(self):
        return self.inner.state_dict()

    def load_state_dict(self, state):
        self.inner.load_state_dict(state)
