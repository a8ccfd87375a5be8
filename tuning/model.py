"""The local GGUF model in PyTorch: dequantised by transformers, wrapped with a LoRA by peft."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from peft import LoraConfig, get_peft_model
from transformers import AutoModelForCausalLM, AutoTokenizer

from tuning.data import Example
from tuning.recipe import Recipe

log = logging.getLogger(__name__)

# Every projection of a Llama-family block (attention and MLP), as the recipe.
TARGETS = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
IGNORE = -100  # a label the loss skips: the prompt's tokens and the padding


@dataclass(frozen=True, slots=True)
class Encoded:
    ids: list[int]
    labels: list[int]  # IGNORE except on the tokens of the answers learnt


def load_base(gguf: Path) -> tuple[Any, Any]:
    """(model, tokenizer) from the GGUF file, dequantised to float32 on the CPU.

    transformers' tokenizer for a GGUF matches llama.cpp's token for token, so what is
    learnt here is what llama.cpp serves."""
    for noisy in ("transformers", "transformers.modeling_utils"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model: Any = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    if tokenizer.pad_token_id is None:
        tokenizer.pad_token = tokenizer.eos_token
    model.eval()
    return model, tokenizer


def with_lora(model: Any, recipe: Recipe) -> Any:
    """The model wrapped with a fresh LoRA on TARGETS; only the LoRA weights train."""
    config = LoraConfig(
        r=recipe.lora_r,
        lora_alpha=recipe.lora_alpha,
        lora_dropout=recipe.lora_dropout,
        target_modules=list(TARGETS),
        bias="none",
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, config)


def _render(tokenizer: Any, messages: list[dict[str, str]], *, ask: bool) -> list[int]:
    ids = tokenizer.apply_chat_template(messages, tokenize=True, add_generation_prompt=ask)
    if isinstance(ids, dict) or hasattr(ids, "input_ids"):  # a BatchEncoding
        ids = ids["input_ids"]
    return list(ids)


def encode(tokenizer: Any, example: Example, max_tokens: int) -> Encoded:
    """The example in the model's chat template; labels on the answers learnt only.

    Each answer's tokens are the difference between the conversation rendered up to and
    including it and rendered up to it with the assistant header: the template's own
    tokens, whatever model it is."""
    messages: list[dict[str, str]] = []
    ids: list[int] = []
    labels: list[int] = []
    for m in example.messages:
        if m.role == "assistant":
            head = _render(tokenizer, messages, ask=True)
            messages.append({"role": m.role, "content": m.content})
            full = _render(tokenizer, messages, ask=False)
            fresh = head[len(ids) :]
            ids += fresh
            labels += [IGNORE] * len(fresh)
            answer = full[len(head) :]
            ids += answer
            labels += answer if m.learn else [IGNORE] * len(answer)
        else:
            messages.append({"role": m.role, "content": m.content})
    return Encoded(ids[:max_tokens], labels[:max_tokens])


def batch(encoded: list[Encoded], pad_id: int) -> dict[str, torch.Tensor]:
    """Padded to the longest example of this batch (not a fixed length: padding to 256
    tokens took 9-10 GB where short examples took 3.3 GB)."""
    width = max(len(e.ids) for e in encoded)
    ids = [e.ids + [pad_id] * (width - len(e.ids)) for e in encoded]
    labels = [e.labels + [IGNORE] * (width - len(e.labels)) for e in encoded]
    mask = [[1] * len(e.ids) + [0] * (width - len(e.ids)) for e in encoded]
    return {
        "input_ids": torch.tensor(ids),
        "labels": torch.tensor(labels),
        "attention_mask": torch.tensor(mask),
    }


def generate(model: Any, tokenizer: Any, messages: list[dict[str, str]], tokens: int) -> str:
    """A greedy answer (the base model's, for the general mix)."""
    ids = torch.tensor([_render(tokenizer, messages, ask=True)])
    with torch.no_grad():
        out = model.generate(
            input_ids=ids,
            attention_mask=torch.ones_like(ids),
            max_new_tokens=tokens,
            do_sample=False,
            pad_token_id=tokenizer.pad_token_id,
            repetition_penalty=1.1,
        )
    return str(tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)).strip()
