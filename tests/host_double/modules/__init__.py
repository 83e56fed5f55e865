"""Fake ``modules`` package of the Stable Diffusion WebUI (host test double).

It is installed as the top-level ``modules`` package by ``tests.host_double.host.WebUIDouble`` and removed
again afterwards; never import it as ``tests.host_double.modules``.
"""
