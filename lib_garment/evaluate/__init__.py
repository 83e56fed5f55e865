"""Measuring what the paper measured (Kong & Wu 2024, Tables 3–4), on a seller's own images.

- ``image_sets``: FID, KID and IS of a generated set against a real set, computed by torch-fidelity with the FID
  Inception from the model registry (``inception``), after the file and resize rules of ``images``;
- ``fidelity``: were the product's pixels kept (α = 1 pixels identical to the photo), the seam at the matte's
  edge, and the compliance pass rate of a results folder;
- ``masks``: predicted masks against a user's ground truth (IoU, boundary F, MAE, S-, E- and weighted
  F-measure through pysodmetrics);
- ``ablation``: the paper's four stages per task run through the catalogue runner, evaluated and tabulated.

Nothing here imports the WebUI; the command line is ``lib_garment/cli/evaluate.py``.
"""
