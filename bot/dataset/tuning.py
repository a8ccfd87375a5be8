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
    return head + seed + "\n" + body + (_OPENAI_BETA if preference else "")
