"""Model architectures (torch nn.Modules): trained by trainers, served by the torch backend, exported by engines.

Importing this package does not import torch; import the submodules.
"""
