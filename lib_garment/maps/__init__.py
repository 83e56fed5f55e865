"""Control maps for ControlNet: edges, lines, pose, depth and normals, all at the input image's full size.

The weight-free maps (Canny, mask outline, Hough lines, pose drawn from given keypoints, depth normalisation,
normals from depth) are plain OpenCV/numpy. Model-based pose and depth plug in through the estimator
protocols in :mod:`lib_garment.maps.compute`: a pose model hands over COCO keypoints, a depth model a float
array; drawing and normalisation stay here.
"""

from __future__ import annotations
