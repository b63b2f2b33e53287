"""Model engines: the model card, the one Backend interface and its runtimes, export and build tools."""
