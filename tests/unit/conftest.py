"""Make `ansible_collections.crosshost.network` importable for unit tests."""
import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
COLLECTIONS = os.path.join(REPO, ".build", "collections")
if not os.path.isdir(os.path.join(COLLECTIONS, "ansible_collections", "crosshost", "network")):
    raise RuntimeError("run `make collection` first: %s is missing" % COLLECTIONS)
sys.path.insert(0, COLLECTIONS)
