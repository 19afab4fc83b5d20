"""Layer 4, context rows: selection of real rows (``selection``), the three distillations (``pixel_lgm``,
``row_lgm``, ``tabicl_lgm``), their settings (``configs``), cached LGM images (``lgm_images``) and the strategy
registry (``strategies``: a new strategy goes here)."""
