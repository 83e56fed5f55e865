"""Text-prompted segmentation, the model-free rules of Kong & Wu (2024) §3.2.

GroundingDINO finds boxes for each phrase (:mod:`.phrases`, :mod:`.boxes`: thresholds, the largest box per
phrase or every instance or the top k), SAM turns the chosen boxes into masks that are united and cleaned
of components under 50 px (:mod:`.cleanup`), a trimap is built around the mask edge (:mod:`.trimap`) and a
matte refines it (:mod:`.matte`: ViTMatte's alpha made exact on the trimap's sure regions, or a weight-free
guided-filter matte). Models run at their own working sizes; :mod:`.geometry` maps boxes, masks and alpha
between those and the photo without shifts. :mod:`.pipeline` chains the steps around plug-in models (the
protocols there), :mod:`.coarse` starts from a mask the user drew instead, :mod:`.overlay` draws the preview.
"""

from __future__ import annotations
