"""The models behind the segmentation protocols: GroundingDINO, SAM and ViTMatte, each run through a runtime.

Every backend is two halves. The *engine function* (``module:function``) runs wherever the model's packages
are — in this process or in the model worker (:mod:`lib_garment.runtime`) — and keeps its model resident with
``cached_model``, so a model loads once per process, never per image. The *backend object* lives in the caller's
process, implements the pipeline's protocol (:mod:`lib_garment.segment.pipeline`), calls its engine function
through the runtime chosen for it and keeps :class:`~.base.CallStats` (wall time, model time, SAM encodings).

- :mod:`.base`: what every backend shares: call statistics and the runtime call that fills them.
- :mod:`.grounding_dino_py`: the official checkpoint with the ``groundingdino-py`` package (in-process).
- :mod:`.grounding_dino_hf`: transformers' ``GroundingDinoForObjectDetection`` (the worker on transformers < 4.40).
- :mod:`.grounding`: what both detectors share: phrase token spans and scores → detections.
- :mod:`.sam` with :mod:`.sam_arch`: segment-anything (any ViT size, inferred from the weights) and MobileSAM;
  the image embedding is computed once per image and reused for every box.
- :mod:`.vitmatte`: transformers' ``VitMatteForImageMatting`` (the worker on transformers < 4.34).
- :mod:`.assemble`: a request → the three backends, models fetched through the registry, cached across images;
  checkpoints load only as :mod:`lib_garment.models.weights` allows (registry-verified or explicitly trusted).
"""

from __future__ import annotations
