"""Execution engines for the same pipeline: ``pandas`` (one process) and ``dask`` (a cluster).

Both engines call the very same functions (``training.dataset.build_training_frame``,
``features.build.build_features``, ``training.pipeline.train_on_frame``); the dask engine
only runs them per partition of customers (``map_partitions``) and collects the result.
"""

ENGINES = ("pandas", "dask")
