"""Layer 3, classifiers and scores (TabICL's model code lives in :mod:`icl_support.model`): peers, the linear
probe, attention maps, 2-D projections, row geometry, timing, held-out tables, recorded results read back
(``records``) and what produced them (``provenance``), the run object (``run``: settings with device and weights
resolved once), figure helpers (``plots``) and the evaluator registry with the one scorer (``scoring``: a new
evaluator goes here)."""
