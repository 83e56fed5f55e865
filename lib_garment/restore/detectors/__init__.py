"""Detector backends: ADetailer's YOLOv8 files through ultralytics (:mod:`.yolo`), mediapipe's bundled face
detectors and hand tracker (:mod:`.mediapipe`), OpenCV's Haar cascade (:mod:`.haar`). Each is a
:class:`~lib_garment.restore.detect.PartDetector`; :mod:`.choose` makes one by name or YOLO file path, and
:mod:`.common` holds what the families share.

A detection's kind comes from its class name (``hand``…, ``face``/``head``…), else from the detector's kind
(given, or read from the file name, as ADetailer's names say it); a detection of neither kind is dropped.
"""
