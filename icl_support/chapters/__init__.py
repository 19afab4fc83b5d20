"""Layer 5, one module per chapter (a new chapter goes here): ``tabicl_mini`` (0), ``context_scaling`` (1),
``inference_time`` (2), ``one_per_class`` (3-4), ``claims`` (the write-up's claims), ``pareto`` and ``explorer``
(5), ``shift`` and ``beyond`` (6), ``performance`` (7). Chapter modules import the layers below, never each other."""
