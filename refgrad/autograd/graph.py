"""The types of the recorded graph, for annotations in user code: ``Node`` (what
``tensor.grad_fn`` is, with ``name()`` and ``next_functions``) and ``RemovableHandle``
(what ``register_hook`` returns). As in ``torch.autograd.graph``."""

from __future__ import annotations

from refgrad._node import Node, RemovableHandle

__all__ = ["Node", "RemovableHandle"]
