"""Models: the registry (``registry``), verified downloads (``download``, ``verify``, ``progress``) and getting a
model onto the disk before any load (``store.ensure_model``). Loaders and the model runtime build on these."""
