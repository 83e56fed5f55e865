"""Marketplace presets, host-free: rules as data (TOML, each rule with its public source), framing onto the
preset's canvas, plain backgrounds, halo-free edges, shadows and the compliance check.

Entry points call :func:`lib_garment.presets.finish.finish_for_preset` once, after the exact composite.
Nothing is imported here: pymatting (numba) loads only when an edge is estimated.
"""
