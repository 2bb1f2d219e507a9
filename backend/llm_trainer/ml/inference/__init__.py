"""Serving trained versions on CPU: predictors, an LRU model cache, a micro-batcher and ONNX/int8 exports.

Nothing here imports torch at module import time, so the web app starts fast; models load on first use.
"""
