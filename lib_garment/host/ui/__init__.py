"""The Garment Studio tab (:mod:`.tab_layout` builds it) and its parts, plus the error and status tabs."""
