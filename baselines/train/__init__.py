"""LoRA fine-tuning of a reasoner on an exported rationale dataset (``visanom train``)."""
