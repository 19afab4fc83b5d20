"""icl_support: the package behind the icl-synth book, laid out by layer (imports only point down).

core (0) -> data (1) -> embedding (2) -> evaluation (3) -> contexts, pretraining (4) -> chapters (5) -> book (6).
See ARCHITECTURE.md for where each kind of extension goes.
"""

__version__ = "0.1.0"
