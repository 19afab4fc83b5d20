"""Layer 5, one runner per chapter (a new chapter goes here): ``tabicl_mini`` (0), ``context_scaling`` (1),
``one_per_class`` (3-4), ``pareto`` and ``explorer`` (5), ``shift`` (6), ``performance`` (7). Chapter modules import
the layers below, never each other."""
