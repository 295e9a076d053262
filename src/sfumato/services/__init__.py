"""What the product does, in plain Python: no FastAPI, no torch."""
