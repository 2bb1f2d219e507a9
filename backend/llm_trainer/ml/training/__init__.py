"""Training: config shape, data preparation, the HF Trainer loop and evaluation (no FastAPI, no DB)."""
