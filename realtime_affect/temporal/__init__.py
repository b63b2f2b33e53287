"""Per-track feature windows that feed the sequence model (GRU) its 32-frame context."""
