"""Stage 1, loading: getting a model and its traced graph.

Reading the model from a file or an object (``sources``, with ``archive_safety`` and
``archive_integrity`` checking archives before torch sees them), checking the input
specifications (``specs``, ``dtypes``), specialising scripted graphs on the given shapes
(``specialise``, ``graph_runner``) and recording the graph as ONNX (``onnx_export``).
"""
