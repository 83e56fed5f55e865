"""Fake ``modules_forge`` package: present only in the Forge flavour, so ``import modules_forge`` detects Forge."""
