"""Command line: one sub-command per module; exit codes 0 ok, 2 bad input, 3 missing model/offline, 1 internal."""
