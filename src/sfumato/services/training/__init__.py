"""Training & elements: datasets, custom models and user elements (LoRAs trained on a base model), the platform
elements, trigger words, and the LoRAs a generation applies."""
