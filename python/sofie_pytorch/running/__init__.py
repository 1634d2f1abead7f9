"""Stage 3, running: compiling generated code into shared libraries and calling it.

``sharedlib`` compiles generated C++ with g++ into a self-contained library;
``scorer_code`` writes the C++ glue that scores RDataFrame entries with it.
"""
