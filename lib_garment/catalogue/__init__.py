"""Catalogue production: a manifest of SKUs in, a marketplace image set out.

``manifest`` reads and checks every row before anything runs; ``jobs`` turns rows into (sku, variant) jobs with
deterministic ids; ``state`` keeps them in ``DIR/batch.sqlite``; ``files`` writes each job's outputs atomically;
``reports`` rewrites results.csv, each SKU's result.json and the contact sheet from the database; ``runner``
runs the jobs on one or more generators (WebUI servers) with a bounded prefetch of local preparation.
"""
