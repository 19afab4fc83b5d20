"""Layer 4, context rows: selection of real rows (``selection``), the distillations (``pixel_lgm``, ``row_lgm``,
``tabicl_lgm``, ``tabicl_pixels``), their settings (``configs``), cached LGM images (``lgm_images``), the strategy
registry (``strategies``: a new strategy goes here) and the sweep of every strategy at every k (``sweep``)."""
