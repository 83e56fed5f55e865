"""Tiny random models written in the on-disk formats users download, for testing production loaders.

Every module here imports only the standard library at import time: the heavy libraries are imported
inside the functions, so the same functions can run in the test process or in the model-worker
subprocess (see ``hf_subprocess``), whichever has the transformers classes they need.
"""
