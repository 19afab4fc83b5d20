"""Layer 4, TabICL-mini: synthetic tables (``synthetic_tables``) and the resumable pretraining loop with its
recipes and CLI (``pretrain``: ``python -m icl_support.pretraining.pretrain``)."""
