"""A tiny random Qwen2.5-VL (model + processor + locally trained tokenizer) and a LoRA for it.

Nothing is downloaded: the tokenizer is a byte-level BPE trained here on a few KB of text,
the weights are random. :func:`build_tiny_vlm` writes a folder that
``AutoModelForImageTextToText`` / ``AutoProcessor`` load like a hub snapshot;
:func:`build_tiny_lora` writes a peft adapter folder for it. Used by the tests and
``benchmarks/transformers_bench.py``.
"""

from __future__ import annotations

from pathlib import Path

SPECIAL_TOKENS = [
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>",
    "<|vision_pad|>", "<|image_pad|>", "<|video_pad|>",
]

CHAT_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}"
    "{% else %}{% for part in message['content'] %}"
    "{% if part['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif part['type'] == 'text' %}{{ part['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)

_CORPUS = (
    "Do you see any anomalies on this plot? The x-axis represents the index and the y-axis "
    "the value. <anomaly>True</anomaly> <index>(150800, 151200)</index> Step 1: the series "
    "oscillates around zero. Step 2: one region around index 1200 to 1350 deviates sharply. "
    "Step 3: this region is identified as an anomaly because the amplitude triples. "
    "<anomaly>False</anomaly> The series is normal; no anomalies. 0123456789 (),.:;-_ "
)

MAX_POSITIONS = 1024
MIN_PIXELS = 28 * 28 * 4
MAX_PIXELS = 448 * 448


def build_tokenizer(vocab_size: int = 1000, max_positions: int = MAX_POSITIONS):
    """A byte-level BPE with Qwen's special tokens, left padding and a Qwen-style chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator([_CORPUS] * 20, trainer=trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", padding_side="left",
        model_max_length=max_positions, extra_special_tokens={
            "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
            "vision_start_token": "<|vision_start|>", "vision_end_token": "<|vision_end|>",
        },
    )
    fast.chat_template = CHAT_TEMPLATE
    return fast


def mrope_section(head_dim: int) -> list[int]:
    """Qwen2.5-VL's multimodal rotary split (time, height, width) of ``head_dim / 2`` frequencies."""
    half = head_dim // 2
    t = half // 4
    return [t, (half - t) // 2, half - t - (half - t) // 2]


def build_tiny_vlm(path: str | Path, seed: int = 0, max_positions: int = MAX_POSITIONS, heads: int = 4) -> Path:
    """Write a tiny random Qwen2.5-VL with its processor to ``path``; returns the folder.

    ``max_positions`` is its context length (raise it for long text prompts). ``heads`` sets
    the text model's attention heads over its 64 hidden units: 4 (head_dim 16, the default),
    or 2 (head_dim 32, the smallest head size vLLM's CPU attention supports)."""
    import torch
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2_5_VLProcessor,
        Qwen2VLImageProcessor,
        Qwen2VLVideoProcessor,
    )

    path = Path(path)
    tok = build_tokenizer(max_positions=max_positions)
    ids = {t: tok.convert_tokens_to_ids(t) for t in SPECIAL_TOKENS}
    config = Qwen2_5_VLConfig(
        text_config={
            "vocab_size": len(tok), "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 2,
            "num_attention_heads": heads, "num_key_value_heads": 2, "max_position_embeddings": max_positions,
            "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0,
                                "mrope_section": mrope_section(64 // heads)},
            "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
            "pad_token_id": ids["<|endoftext|>"], "tie_word_embeddings": True,
        },
        vision_config={
            "depth": 2, "hidden_size": 32, "intermediate_size": 64, "num_heads": 2, "out_hidden_size": 64,
            "fullatt_block_indexes": [1], "window_size": 112,
        },
        image_token_id=ids["<|image_pad|>"], video_token_id=ids["<|video_pad|>"],
        vision_start_token_id=ids["<|vision_start|>"], vision_end_token_id=ids["<|vision_end|>"],
        tie_word_embeddings=True,
    )
    torch.manual_seed(seed)
    model = Qwen2_5_VLForConditionalGeneration(config).eval()
    model.generation_config.eos_token_id = [ids["<|im_end|>"], ids["<|endoftext|>"]]
    model.generation_config.pad_token_id = ids["<|endoftext|>"]
    model.save_pretrained(path)
    processor = Qwen2_5_VLProcessor(
        image_processor=Qwen2VLImageProcessor(min_pixels=MIN_PIXELS, max_pixels=MAX_PIXELS),
        video_processor=Qwen2VLVideoProcessor(), tokenizer=tok, chat_template=CHAT_TEMPLATE,
    )
    processor.save_pretrained(path)
    return path


def build_tiny_lora(base: str | Path, path: str | Path, seed: int = 1, scale: float = 0.5) -> Path:
    """Write a peft LoRA adapter (q/k/v/o of the language model) with non-zero weights."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForImageTextToText

    path = Path(path)
    model = AutoModelForImageTextToText.from_pretrained(str(base), dtype=torch.float32)
    config = LoraConfig(r=4, lora_alpha=8, target_modules=r".*language_model.*\.(q|k|v|o)_proj",
                        init_lora_weights=False)
    peft_model = get_peft_model(model, config)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in peft_model.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * scale)
    peft_model.save_pretrained(path)
    return path
