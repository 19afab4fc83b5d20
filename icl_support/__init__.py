"""icl_support: the package behind the icl-synth book, laid out by layer (imports only point down).

core (0) -> data (1) -> embedding (2) -> evaluation (3) -> contexts, pretraining (4) -> chapters (5) -> book (6).
See ARCHITECTURE.md for where each kind of extension goes.

The public API is :data:`__all__` (imported lazily, so ``import icl_support`` stays light)::

    from icl_support import ContextClassifier, ContextSampler, list_strategies, resolve_weights
    clf = ContextClassifier(make_tabicl(resolve_weights("mini", ".")), ContextSampler("kcenter", per_class=5))

Everything else is internal: module paths may change between versions.
"""

__version__ = "0.1.0"

_PUBLIC = {
    "ContextSampler": "icl_support.contexts.sampler",
    "ContextClassifier": "icl_support.contexts.sampler",
    "list_strategies": "icl_support.contexts.strategies",
    "resolve_weights": "icl_support.model.weights",
    "make_tabicl": "icl_support.model.weights",
    "fit_tabicl": "icl_support.model.context_stats",
    "load_dataset": "icl_support.data.datasets",
    "embed_to_cache": "icl_support.embedding.embed",
}
__all__ = sorted(_PUBLIC)


def __getattr__(name: str):
    if name in _PUBLIC:
        import importlib

        return getattr(importlib.import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'icl_support' has no attribute {name!r}; public: {', '.join(__all__)}")


def __dir__():
    return sorted(list(globals()) + __all__)
