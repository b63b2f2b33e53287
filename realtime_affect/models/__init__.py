"""Models and serving: the networks (torch nn.Modules, trained by ``trainers``), checkpoints, the model card
every model file carries, the one ``Backend`` interface with a module per runtime (torch, ONNX Runtime,
TensorRT), ``open_model``, and the student's helper process. ``engines`` builds model files; this package
runs them.

Importing this package does not import torch; import the submodules.
"""
