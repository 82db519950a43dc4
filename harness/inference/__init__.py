"""The common inference layer: engines that turn chat requests (image + prompt) into text."""

from harness.inference.base import ChatRequest, Engine, GenerationConfig, GenerationResult

__all__ = ["ChatRequest", "Engine", "GenerationConfig", "GenerationResult"]
