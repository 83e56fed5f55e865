"""Model registry, discovery of weights on disk, and (later) loaders and the model runtime."""
