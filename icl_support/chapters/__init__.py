"""Layer 5, one module per idea of a chapter (a new chapter goes here): ``tabicl_mini``, ``tabicl_mini_cifar``,
``tabicl_mini_recipes`` and ``fewshot_report`` (0), ``context_scaling`` (1), ``inference_time`` (2),
``one_per_class`` (3-4), ``claims``, ``claims_evidence`` and ``image_side`` (the write-up's claims), ``pareto``
and ``explorer`` (5), ``shift`` and ``beyond`` (6), ``performance`` (7), ``use_it`` (8). Chapter modules import
the layers below, never each other."""
