"""Model build tools: export to ONNX, INT8 quantization, TensorRT engine building and backend benchmarks.
Serving (the model card, the Backend interface and its runtimes, ``open_model``) lives in
``realtime_affect.models``; this package imports the runtime, never the other way round."""
