"""tuning.toml: the hyperparameters the chosen target exposes, at their documented defaults."""

from __future__ import annotations

from bot.dataset.formats import FormatSpec

# The seed's notes ("Refinamiento") tune learning_rate = 0.001, batch_size = 32,
# epochs = 50, momentum = 0.9, dropout_rate = 0.5. The hosted services expose fewer
# knobs and name them differently; the file says which of the notes' names each one is.
_SEED = """\
# "Refinamiento" (fine-tuning) in the seed's notes, mapped to this target:
#   epochs = 50          ("épocas": passes over the data)  -> {epochs}
#   learning_rate = 0.001 ("tasa de aprendizaje")           -> learning_rate_multiplier:
#                        a factor on the service's own rate, not a rate
#   batch_size = 32      ("tamaño de lote")                 -> {batch}
#   momentum = 0.9, dropout_rate = 0.5                      -> not exposed: the service
#                        chooses its optimizer and regularisation
"""

# Vertex AI: "Tune Gemini models by using supervised fine-tuning" (cloud.google.com/
# vertex-ai/generative-ai/docs/models/gemini-use-supervised-tuning): epochs "Leave it unset
# to use the recommended value"; the learning rate multiplier's default is 1.0; the
# adapter size is 1, 2, 4, 8 or 16 (gemini-supervised-tuning, Limitations), unset = the
# model's recommended one. Preference tuning (gemini-use-preference-tuning) adds beta,
# "the coefficient that controls how closely the tuned model aligns with its baseline",
# optional, with no documented default. Names as the Vertex AI SDK's tuning calls take
# them (the REST API: epochCount, learningRateMultiplier, adapterSize, beta).
_VERTEX = """\
[vertex]
method = "{method}"
training_dataset = "train.jsonl"
validation_dataset = "validation.jsonl"
# epochs: unset = Vertex's recommended number for the dataset
learning_rate_multiplier = 1.0
# adapter_size: 1, 2, 4, 8 or 16; unset = the model's recommended size
"""
_VERTEX_BETA = """\
# beta: how closely the tuned model stays to its base (optional, no documented default)
"""

# OpenAI: fine-tuning jobs, method.supervised / method.dpo hyperparameters
# (platform.openai.com/docs/api-reference/fine-tuning): n_epochs, batch_size,
# learning_rate_multiplier, and beta for DPO, each "auto" by default: OpenAI picks it
# from the dataset.
_OPENAI = """\
[openai]
method = "{method}"
training_file = "train.jsonl"
validation_file = "validation.jsonl"
n_epochs = "auto"
batch_size = "auto"
learning_rate_multiplier = "auto"
"""
_OPENAI_BETA = """\
# beta: a higher value weighs the penalty between the tuned and the reference model more
beta = "auto"
"""


# `tertulia tune` (tuning/recipe.py reads this table for its defaults). Checked on the
# bundled SmolLM2-135M (issue 12): lr 1e-3 for 3 epochs on the new data alone leaked a
# taught fact into 4 of 10 unrelated answers; mixing in the base model's own answers to
# general prompts, lr 5e-4 and 2 epochs brought it to 1 of 10. Here, 10 taught examples
# (tests/tuning/test_tune_process.py's fact): one general answer per example leaked it into
# 5 of 10 held-out answers; three per example, 15 steps, into none, 83 % recall.
LOCAL_TABLE = """\
[local]
# `tertulia tune`: LoRA on the local GGUF model, on this machine's CPU (openai-chat only).
# The seed's names where they apply: learning_rate, batch_size, epochs, dropout.
learning_rate = 5e-4   # "tasa de aprendizaje" (AdamW)
batch_size = 8         # "tamaño de lote": examples per step
epochs = 2             # "épocas": passes over the data
lora_dropout = 0.05    # the seed's dropout_rate, on the LoRA layers only
lora_r = 16            # the adapter's rank
lora_alpha = 32        # its scale: the update is multiplied by alpha / r
mix_general = 3.0      # the base model's own answers to general prompts, per example
max_tokens = 256       # tokens per example at most (longer ones are cut)
seed = 42
"""


def tuning_toml(spec: FormatSpec) -> str:
    """The hyperparameters file for `spec`'s target and method, with the seed's names."""
    preference = spec.method == "preference"
    head = f"# Hyperparameters for tuning on this export ({spec.name}), documented defaults.\n"
    if spec.target == "vertex":
        seed = _SEED.format(epochs="epochs", batch="not exposed by Vertex for Gemini")
        body = _VERTEX.format(method="preference" if preference else "supervised")
        return head + seed + "\n" + body + (_VERTEX_BETA if preference else "")
    seed = _SEED.format(epochs="n_epochs", batch="batch_size")
    body = _OPENAI.format(method="dpo" if preference else "supervised")
    local = "" if preference else "\n" + LOCAL_TABLE
    return head + seed + "\n" + body + (_OPENAI_BETA if preference else "") + local
