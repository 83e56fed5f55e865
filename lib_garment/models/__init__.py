"""Models: the registry (``registry``), verified downloads (``download``, ``verify``, ``progress``), getting a
model onto the disk before any load (``store.ensure_model``) and which weight files may then be unpickled
(``weights``). Loaders build on these."""
