"""icl_support: the package behind the icl-synth book.

Modules, one job each: ``config`` (profiles and settings), ``data`` (datasets, subsampling),
``backbones`` (timm models), ``embed`` (cached embeddings), ``tables`` (settings -> rows),
``tabicl_model`` (TabICL weights and classifier), ``peers`` (baseline classifiers),
``context_scaling`` (chapter 1), ``timing`` (chapter 2), ``plots``, ``notebook`` (glue helpers).
"""

__version__ = "0.1.0"
