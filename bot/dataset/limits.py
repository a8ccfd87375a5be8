"""Each target's documented dataset limits, with where they are written."""

from __future__ import annotations

from dataclasses import dataclass

GB = 10**9  # the documents say "1GB" and "512 MB": read as decimal, the smaller reading
MB = 10**6


@dataclass(frozen=True, slots=True)
class Limits:
    """What a tuning service accepts. None: nothing documented."""

    example_tokens: int  # input and output tokens of one example
    file_bytes: int  # one JSONL file
    max_train: int | None = None  # examples in the training file
    max_validation: int | None = None  # examples in the validation file
    # Vertex preference tuning: no more validation examples than this share of the
    # training ones, once there are more than `share_above` validation examples.
    validation_share: float | None = None
    share_above: int | None = None
    min_train: int | None = None  # refused below this many training examples
    advised_train: int | None = None  # the documents' advice, below which: a warning
    sources: tuple[str, ...] = ()


# Vertex AI, "About supervised fine-tuning for Gemini models", Limitations, Gemini 2.5
# Flash and Flash-Lite (cloud.google.com/vertex-ai/generative-ai/docs/models/
# gemini-supervised-tuning): 131,072 input and output training tokens per example, at
# most 5000 validation examples, a training file of at most 1GB of JSONL, at most 1M
# text-only examples. "Prepare supervised fine-tuning data" (.../gemini-supervised-
# tuning-prepare): "we recommend that you start with 100 examples". No minimum is given.
VERTEX_SFT = Limits(
    example_tokens=131_072,
    file_bytes=1 * GB,
    max_train=1_000_000,
    max_validation=5000,
    advised_train=100,
    sources=(
        "https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning",
        "https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-supervised-tuning-prepare",
    ),
)

# Vertex AI, "About preference tuning for Gemini models", Limitations (.../models/
# gemini-preference-tuning): training file 1GB, 131,072 input and output tokens per
# example (the data page: input + completion "<= 128K"), 10M text-only examples,
# "Maximum validation dataset size: 5000 examples or 30% of the number of training
# examples if there are more than 1000 validation examples".
VERTEX_PREFERENCE = Limits(
    example_tokens=131_072,
    file_bytes=1 * GB,
    max_train=10_000_000,
    max_validation=5000,
    validation_share=0.3,
    share_above=1000,
    sources=(
        "https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-preference-tuning",
        "https://cloud.google.com/vertex-ai/generative-ai/docs/models/gemini-preference-tuning-prepare",
    ),
)

# OpenAI, supervised fine-tuning guide (platform.openai.com/docs/guides/fine-tuning):
# "The minimum number of examples you can provide for fine-tuning is 10", "We recommend
# starting with 50 well-crafted demonstrations"; a training example's context is at most
# 65,536 tokens for gpt-4o-2024-08-06 and gpt-4o-mini-2024-07-18 (the same figure in
# Azure OpenAI's table of fine-tunable models). Files API, upload: "Individual files can
# be up to 512 MB". No cap on validation examples is documented.
OPENAI_SFT = Limits(
    example_tokens=65_536,
    file_bytes=512 * MB,
    min_train=10,
    advised_train=50,
    sources=(
        "https://platform.openai.com/docs/guides/supervised-fine-tuning",
        "https://platform.openai.com/docs/api-reference/files/create",
    ),
)

# OpenAI, direct preference optimization guide (platform.openai.com/docs/guides/
# direct-preference-optimization) gives the format and no limits of its own: a DPO job
# is a fine-tuning job, so the guide's minimum of 10 examples, the 65,536-token example
# context and the Files API's 512 MB apply. A pair counts its prompt and longer answer.
OPENAI_DPO = Limits(
    example_tokens=65_536,
    file_bytes=512 * MB,
    min_train=10,
    sources=(
        "https://platform.openai.com/docs/guides/direct-preference-optimization",
        "https://platform.openai.com/docs/guides/supervised-fine-tuning",
        "https://platform.openai.com/docs/api-reference/files/create",
    ),
)
