"""Stage 3, running: compiling generated code into shared libraries and calling it.

``sharedlib`` compiles generated C++ with g++ into a self-contained library;
(the glue that scores datasets with it lives in ``sofie_pytorch.scoring``).
"""
