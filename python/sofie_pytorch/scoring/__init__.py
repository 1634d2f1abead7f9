"""Scoring datasets with a converted model, in one place, one module per job:

- ``rdataframe``: ``define()``, the model's outputs as new columns of an RDataFrame
  (local, multithreaded or distributed), one event per call;
- ``columnar``: whole clusters of a TTree or RNTuple read in bulk and run through the
  compiled model in batches (the ``score`` command's local path, and ``score_arrays`` for
  users outside RDataFrame);
- ``library``: converting a model and compiling it with the glue into a cached library;
- ``glue``: the C++ source of that glue (the compiled half and the header cling reads);
- ``command``: ``sofie-pytorch score``.
"""
