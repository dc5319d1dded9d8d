"""Execution engines for the same pipeline: ``pandas`` (one process) and ``dask`` (a cluster).

Both engines build the training frame with the very same functions
(``training.dataset.build_training_frame``, ``features.build.build_features``); the dask
engine runs them per partition of customers (``map_partitions``), fits the model with
``lightgbm.dask`` on the workers (``dask_fit``, ``dask_training``) and calibrates and
evaluates on the client, as the pandas engine does.
"""

ENGINES = ("pandas", "dask")
