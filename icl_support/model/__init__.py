"""Layer 2, TabICL's model code (kept apart from scoring, as tabicl keeps ``_model/`` apart from ``_sklearn/``):
``weights`` (which weights: released, the shipped TabICL-mini variants, random, local; the classifier built on
them), ``torch_path`` (TabICL's differentiable path, one table or a batch of tables), ``context_stats``
(TabICL's preprocessing fitted on the context or on the pool) and ``stage_split`` (the column stage reads the
labelled pool, the in-context stage reads the context: ``column_context="pool"``, fitted once, with retrieval
through the cached representations)."""
