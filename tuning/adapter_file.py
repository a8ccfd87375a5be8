"""The trained LoRA written as a GGUF adapter that llama.cpp loads on top of the base model.

What llama.cpp's convert_lora_to_gguf.py writes (that script is not in any installed
package): general.type = adapter, adapter.type = lora, adapter.lora.alpha, and for each
base tensor `W` (GGUF name) the pair `W.lora_a` (rank x in) and `W.lora_b` (out x rank).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gguf
import numpy as np
import torch

# Architectures whose attention Q and K rows llama.cpp stores permuted for its rotary
# embedding (convert_hf_to_gguf's LlamaModel.permute); transformers un-permutes them when
# it loads the GGUF, so the LoRA's B side must be permuted back the same way.
PERMUTED = frozenset({"llama"})


def architecture(base: Path) -> str:
    """general.architecture of a GGUF file (llama, qwen2, gemma3, ...)."""
    field = gguf.GGUFReader(base).get_field("general.architecture")
    if field is None:
        raise ValueError(f"{base}: no general.architecture")
    return str(field.contents())


def _permute(weights: torch.Tensor, heads: int) -> torch.Tensor:
    rows = weights.shape[0]
    return (
        weights.reshape(heads, 2, rows // heads // 2, *weights.shape[1:])
        .swapaxes(1, 2)
        .reshape(weights.shape)
    )


def write_adapter(model: Any, base: Path, out: Path, alpha: float) -> int:
    """The peft model's LoRA weights as a GGUF adapter at `out`; the number of pairs."""
    arch = architecture(base)
    config = model.base_model.model.config
    names = gguf.get_tensor_name_map(_arch_enum(arch), config.num_hidden_layers)
    pairs: dict[str, dict[str, torch.Tensor]] = {}
    for name, tensor in model.named_parameters():
        if ".lora_A." not in name and ".lora_B." not in name:
            continue
        # base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight
        module = name.split(".lora_")[0].removeprefix("base_model.model.")
        side = "a" if ".lora_A." in name else "b"
        pairs.setdefault(module, {})[side] = tensor.detach().float().cpu()
    writer = gguf.GGUFWriter(str(out), arch)
    writer.add_string(gguf.Keys.General.TYPE, gguf.GGUFType.ADAPTER)
    writer.add_string(gguf.Keys.Adapter.TYPE, "lora")
    writer.add_float32(gguf.Keys.Adapter.LORA_ALPHA, float(alpha))
    for module, pair in sorted(pairs.items(), key=lambda kv: _order(kv[0])):
        target = names.get_name(module)
        if target is None:
            raise ValueError(f"no GGUF name for {module} in a {arch} model")
        a, b = pair["a"], pair["b"]
        if arch in PERMUTED and module.endswith("q_proj"):
            b = _permute(b, config.num_attention_heads)
        elif arch in PERMUTED and module.endswith("k_proj"):
            b = _permute(b, config.num_key_value_heads)
        writer.add_tensor(f"{target}.weight.lora_a", a.numpy().astype(np.float16))
        writer.add_tensor(f"{target}.weight.lora_b", b.numpy().astype(np.float16))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return len(pairs)


def _arch_enum(name: str) -> gguf.MODEL_ARCH:
    for arch, arch_name in gguf.MODEL_ARCH_NAMES.items():
        if arch_name == name:
            return arch
    raise ValueError(f"unknown GGUF architecture {name!r}")


def _order(module: str) -> tuple[int, str]:
    """Layer by layer, as the base file lists its tensors."""
    parts = module.split(".")
    layer = next((int(p) for p in parts if p.isdigit()), -1)
    return layer, module
