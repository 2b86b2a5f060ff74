"""A seeded random-init tiny Llama that uses the real SmolLM2 tokenizer, for fast CPU runs."""
from __future__ import annotations

from pathlib import Path

# Changing any of these changes the checkpoint; assets.py rebuilds when this string changes.
TINY_SPEC = "layers=2,hidden=64,heads=4,kv=2,ffn=128,seed=0,pad=unset"
TINY_SEED = 0


def tiny_config(tokenizer, vocab_size: int | None = None):
    """The tiny Llama's configuration, over the tokenizer's vocabulary or the first `vocab_size` ids."""
    from transformers import LlamaConfig

    return LlamaConfig(
        vocab_size=vocab_size or len(tokenizer),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=2048,
        tie_word_embeddings=True,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        # No pad id in the model config, as in the Hub checkpoint: a sequence classifier built from it must
        # be given one (`config.pad_token_id = tokenizer.pad_token_id`), which the homework asks for.
        pad_token_id=None,
    )


def make_tiny_causal_lm(tokenizer, seed: int = TINY_SEED, vocab_size: int | None = None):
    import torch
    from transformers import LlamaForCausalLM

    torch.manual_seed(seed)
    return LlamaForCausalLM(tiny_config(tokenizer, vocab_size)).eval()


def make_tiny_reward_model(tokenizer, seed: int = TINY_SEED):
    import torch
    from transformers import LlamaForSequenceClassification

    config = tiny_config(tokenizer)
    config.num_labels = 1
    torch.manual_seed(seed)
    return LlamaForSequenceClassification(config).eval()


def build_tiny_checkpoint(target: Path, tokenizer_dir: Path) -> None:
    """Save the tiny causal LM and the real tokenizer as a normal checkpoint directory."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
    model = make_tiny_causal_lm(tokenizer)
    model.generation_config.pad_token_id = tokenizer.pad_token_id
    target.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(target, safe_serialization=True)
    tokenizer.save_pretrained(target)
