"""Stage 2, graph: making the traced ONNX graph ready for the SOFIE engine.

Refusing value-dependent control flow (``control_flow``), rewriting what the engine lacks
(``rewrites``), checking what remains against what it supports (``support``), giving
nodes to the project's own operators (``fast_operators``, ``fusion``) and renaming
tensors to names the engine can use (``names``).
"""
