"""Scale-out: process groups, sharded embedding, data-parallel LGM (``python -m icl_support.parallel``)."""
