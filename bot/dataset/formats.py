"""The four output formats: render the internal record, check a line against the format."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from bot.dataset import limits
from bot.dataset.records import Example, Message

# Vertex AI supervised tuning (systemInstruction, contents of user/model turns) and
# preference tuning (system_instruction, contents ending with the user's turn, two
# completions scored 1 and 0), as in "Prepare supervised fine-tuning data for Gemini
# models" and "Prepare preference tuning data for Gemini models"; OpenAI chat
# fine-tuning (messages, assistant turns with weight 0 or 1) and DPO (input.messages,
# preferred_output, non_preferred_output), as in OpenAI's supervised fine-tuning and
# direct preference optimization guides.
Line = dict[str, Any]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """One output format: who takes it, how a record becomes a line, how a line is checked."""

    name: str
    target: str  # "vertex" or "openai"
    method: str  # "supervised" or "preference"
    render: Callable[[Example], Line]
    validate: Callable[[Any], str]  # "" when the line is valid, else what is wrong
    limits: limits.Limits


def tokens(example: Example) -> int:
    """Estimated tokens (characters / 4, rounded up) the service counts for an example:
    all of it, or for a pair its prompt and the longer answer (each answer is trained
    with the prompt on its own)."""
    chars = len(example.system) + sum(len(m.text) for m in example.messages)
    if example.chosen is not None and example.rejected is not None:
        chars += max(len(example.chosen), len(example.rejected))
    return -(-chars // 4)


# -- rendering ------------------------------------------------------------------------


def _parts(text: str) -> list[dict[str, str]]:
    return [{"text": text}]


def _gemini(m: Message) -> dict[str, Any]:
    return {"role": "user" if m.role == "user" else "model", "parts": _parts(m.text)}


def vertex_sft(e: Example) -> Line:
    return {
        # The role of a system instruction is ignored by Vertex; its samples write it.
        "systemInstruction": {"role": "system", "parts": _parts(e.system)},
        "contents": [_gemini(m) for m in e.messages],
    }


def vertex_preference(e: Example) -> Line:
    return {
        "system_instruction": {"parts": _parts(e.system)},
        "contents": [_gemini(m) for m in e.messages],
        "completions": [
            {"score": 1, "completion": {"role": "model", "parts": _parts(e.chosen or "")}},
            {"score": 0, "completion": {"role": "model", "parts": _parts(e.rejected or "")}},
        ],
    }


def _openai(m: Message) -> dict[str, Any]:
    if m.role == "user":
        return {"role": "user", "content": m.text}
    return {"role": "assistant", "content": m.text, "weight": int(m.target)}


def openai_chat(e: Example) -> Line:
    return {"messages": [{"role": "system", "content": e.system}, *map(_openai, e.messages)]}


def openai_dpo(e: Example) -> Line:
    prompt = [{"role": m.role, "content": m.text} for m in e.messages]
    return {
        "input": {"messages": [{"role": "system", "content": e.system}, *prompt]},
        "preferred_output": [{"role": "assistant", "content": e.chosen}],
        "non_preferred_output": [{"role": "assistant", "content": e.rejected}],
    }


# -- checking -------------------------------------------------------------------------


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value.strip())


def _keys(obj: Any, required: set[str], optional: frozenset[str] = frozenset()) -> str:
    if not isinstance(obj, dict):
        return "not an object"
    missing, extra = required - obj.keys(), obj.keys() - required - optional
    return f"missing {sorted(missing)}" if missing else f"unknown {sorted(extra)}" if extra else ""


def _content(c: Any, roles: tuple[str, ...]) -> str:
    """A Gemini Content of one text part."""
    problem = _keys(c, {"role", "parts"})
    if problem:
        return f"content {problem}"
    if c["role"] not in roles:
        return f"role {c['role']!r}"
    parts = c["parts"]
    if not (isinstance(parts, list) and len(parts) == 1 and not _keys(parts[0], {"text"})):
        return "parts must be one text part"
    return "" if _is_text(parts[0]["text"]) else "empty text"


def _turns(roles: list[Any], answer: str, last: str) -> str:
    """Turns alternate between the user and `answer`, the user's first, and end with `last`."""
    if not roles:
        return "no turns"
    for i, role in enumerate(roles):
        if role != ("user" if i % 2 == 0 else answer):
            return f"turn {i} is {role!r}: turns must alternate, the user's first"
    return "" if roles[-1] == last else f"must end with a {last} turn"


def _gemini_line(line: Any, system: str, final: str, extra: set[str]) -> str:
    problem = _keys(line, {"contents", *extra}, frozenset({system}))
    if problem:
        return problem
    if system in line:
        instruction = line[system]
        if _keys(instruction, {"parts"}, frozenset({"role"})) or _content(
            {"role": "system", "parts": instruction["parts"]}, ("system",)
        ):
            return f"{system} must be one text part"
    contents = line["contents"]
    if not isinstance(contents, list):
        return "contents must be a list"
    for c in contents:
        if problem := _content(c, ("user", "model")):
            return problem
    return _turns([c["role"] for c in contents], "model", final)


def check_vertex_sft(line: Any) -> str:
    return _gemini_line(line, "systemInstruction", "model", set())


def check_vertex_preference(line: Any) -> str:
    problem = _gemini_line(line, "system_instruction", "user", {"completions"})
    if problem:
        return problem
    completions = line["completions"]
    if not (isinstance(completions, list) and len(completions) == 2):
        return "completions must be a pair"
    for c in completions:
        if _keys(c, {"score", "completion"}) or c["score"] not in (0, 1):
            return "a completion is {score: 0 or 1, completion}"
        if problem := _content(c["completion"], ("model",)):
            return f"completion {problem}"
    if sorted(c["score"] for c in completions) != [0, 1]:
        return "one completion must score 1 and the other 0"
    texts = [c["completion"]["parts"][0]["text"] for c in completions]
    return "the two completions are the same" if texts[0] == texts[1] else ""


def _chat(messages: Any, last: str, weights: bool) -> str:
    if not isinstance(messages, list) or not messages:
        return "messages must be a non-empty list"
    if isinstance(messages[0], dict) and messages[0].get("role") == "system":
        if _keys(messages[0], {"role", "content"}) or not _is_text(messages[0]["content"]):
            return "system message must be {role, content}"
        messages = messages[1:]
    for m in messages:
        weighted = weights and isinstance(m, dict) and m.get("role") == "assistant"
        if _keys(m, {"role", "content"}, frozenset({"weight"} if weighted else ())):
            return "a message is {role, content} (and weight on assistant messages)"
        if not _is_text(m["content"]):
            return f"empty {m['role']} message"
        if m.get("weight", 1) not in (0, 1) or isinstance(m.get("weight"), bool):
            return "weight must be 0 or 1"
    return _turns([m["role"] for m in messages], "assistant", last)


def check_openai_chat(line: Any) -> str:
    problem = _keys(line, {"messages"}) or _chat(line["messages"], "assistant", weights=True)
    if problem:
        return problem
    if not any(m.get("weight", 1) == 1 for m in line["messages"] if m["role"] == "assistant"):
        return "no assistant message to train on (all weight 0)"
    return ""


def check_openai_dpo(line: Any) -> str:
    problem = _keys(line, {"input", "preferred_output", "non_preferred_output"})
    if problem:
        return problem
    problem = _keys(line["input"], {"messages"}, frozenset({"tools", "parallel_tool_calls"}))
    if problem or (problem := _chat(line["input"]["messages"], "user", weights=False)):
        return f"input: {problem}"
    outputs = []
    for key in ("preferred_output", "non_preferred_output"):
        out = line[key]
        if not (isinstance(out, list) and len(out) == 1) or _keys(out[0], {"role", "content"}):
            return f"{key} must be one assistant message"
        if out[0]["role"] != "assistant" or not _is_text(out[0]["content"]):
            return f"{key} must be one assistant message"
        outputs.append(out[0]["content"])
    return "the two outputs are the same" if outputs[0] == outputs[1] else ""


FORMAT_SPECS: dict[str, FormatSpec] = {
    "vertex-sft": FormatSpec(
        "vertex-sft", "vertex", "supervised", vertex_sft, check_vertex_sft, limits.VERTEX_SFT
    ),
    "vertex-preference": FormatSpec(
        "vertex-preference",
        "vertex",
        "preference",
        vertex_preference,
        check_vertex_preference,
        limits.VERTEX_PREFERENCE,
    ),
    "openai-chat": FormatSpec(
        "openai-chat", "openai", "supervised", openai_chat, check_openai_chat, limits.OPENAI_SFT
    ),
    "openai-dpo": FormatSpec(
        "openai-dpo", "openai", "preference", openai_dpo, check_openai_dpo, limits.OPENAI_DPO
    ),
}
