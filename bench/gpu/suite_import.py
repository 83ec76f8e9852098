"""Imports the FastKMeans Suite's fast_kmeans package (found on PYTHONPATH) for the scripts beside this one. The suite
imports tqdm for its progress bars alone; where tqdm is missing (Debian's python3 without python3-tqdm) a stand-in that
passes iterables through takes its place."""
import sys
import types

try:
    import tqdm.auto  # noqa: F401
except ImportError:
    stub = types.ModuleType("tqdm")
    stub.auto = types.ModuleType("tqdm.auto")
    stub.auto.tqdm = lambda iterable=None, **_: iterable
    sys.modules["tqdm"], sys.modules["tqdm.auto"] = stub, stub.auto

import fast_kmeans  # noqa: E402,F401
