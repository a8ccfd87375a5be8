"""The export pipeline: conversations -> cleaned records -> format lines -> split -> report."""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Iterable, Mapping
from typing import Any

from bot.context import system_prompt
from bot.dataset import build, clean, language
from bot.dataset.dedup import Deduper, normalize
from bot.dataset.formats import FORMAT_SPECS, FormatSpec, Line, tokens
from bot.dataset.limits import Limits
from bot.dataset.options import DatasetError, ExportOptions
from bot.dataset.records import Example, Origin
from bot.dataset.redact import Redactor
from bot.dataset.split import Rendered, Sink, Splitter
from bot.dataset.summary import markdown, report
from bot.dataset.tally import Tally
from bot.dataset.tuning import tuning_toml
from bot.types import Persona, TrainingConversation

__all__ = ["Sink", "export"]

log = logging.getLogger(__name__)


def check_personas(
    options: ExportOptions, personas: Mapping[str, Persona], default_persona: str
) -> None:
    """DatasetError unless the personas asked for are known."""
    if default_persona not in personas:
        raise DatasetError(f"unknown default persona {default_persona!r}")
    if options.persona is not None and options.persona not in personas:
        names = ", ".join(personas)
        raise DatasetError(f"persona must be one of {names}, not {options.persona!r}")


class Pipeline:
    """One export's state: the format, the counts, the redactor and what was kept."""

    def __init__(
        self,
        options: ExportOptions,
        personas: Mapping[str, Persona],
        default_persona: str,
        platform_ids: Collection[str],
        limits: Limits | None,
    ) -> None:
        check_personas(options, personas, default_persona)
        self.options = options
        self.spec: FormatSpec = FORMAT_SPECS[options.format]
        self.limits = limits or self.spec.limits
        self.personas, self.default_persona = personas, default_persona
        self.tally = Tally()
        self.redact = Redactor(platform_ids)
        self.dedup = Deduper()

    def examples(self, conversation: TrainingConversation) -> list[Example]:
        """The conversation's cleaned examples in the internal format (not yet checked)."""
        tally, options = self.tally, self.options
        lang = conversation.lang if conversation.lang in ("es", "en") else None
        lang = lang or language.detect(t.text for t in conversation.turns if t.role == "user")
        if options.language is not None and lang != options.language:
            tally.drop("conversations", "language")
            return []
        exchanges = clean.exchanges(conversation, self.redact, tally)
        if not exchanges:
            tally.drop("conversations", "nothing_usable")
            return []
        name = conversation.persona if conversation.persona in self.personas else None
        persona = self.personas[name or self.default_persona]
        # The system prompt the engine gave the model: the persona's and the language line.
        system = system_prompt(persona.prompt, lang or "en")
        origin = Origin(conversation.id, conversation.platform, persona.name, lang or "unknown")
        if options.pairs:
            found = build.pairs(
                origin, system, exchanges, min_rating=options.min_rating, tally=tally
            )
            if not found:
                tally.drop("conversations", "no_preference_pair")
            return found
        one = build.conversation(
            origin,
            system,
            exchanges,
            min_rating=options.min_rating,
            keep_context=self.options.format == "openai-chat",
            tally=tally,
        )
        return [one] if one else []

    def render(self, example: Example) -> Rendered | None:
        """The example as a checked line of the format, or None (the reason counted)."""
        reason = self._refused(example)
        line: Line | None = None
        if not reason:
            line = self.spec.render(example)
            problem = self.spec.validate(line)
            if problem:
                log.debug("conversation %d: invalid line: %s", example.origin.conversation, problem)
                reason = "invalid"
        count = tokens(example)
        if not reason and count > self.limits.example_tokens:
            reason = "too_many_tokens"
        if not reason:
            # Last: only an example that passed every other check may hide a look-alike.
            seen = self.dedup.check(example.content())
            reason = f"duplicate_{seen}" if seen else ""
        if reason or line is None:
            self.tally.drop("examples", reason)
            return None
        data = (json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
        return Rendered(example, data, count)

    def _refused(self, example: Example) -> str:
        if build.too_short(example):
            return "too_short"
        if example.is_pair and normalize(example.chosen or "") == normalize(example.rejected or ""):
            return "identical_pair"
        return ""


def export(
    conversations: Iterable[TrainingConversation],
    options: ExportOptions,
    *,
    personas: Mapping[str, Persona],
    default_persona: str,
    platform_ids: Collection[str],
    sink: Sink,
    preview: int = 0,
    limits: Limits | None = None,
) -> tuple[dict[str, Any], list[Line]]:
    """Run the export into `sink`: train and validation lines, then summary.json,
    summary.md and tuning.toml. The report, and the first `preview` lines written.

    `limits`: the format's documented ones unless given (tests give small ones)."""
    run = Pipeline(options, personas, default_persona, platform_ids, limits)
    splitter = Splitter(run.limits, options.seed, options.validation, sink, run.tally)
    shown: list[Line] = []
    for conversation in conversations:
        run.tally.conversations_read += 1
        rendered = [r for r in map(run.render, run.examples(conversation)) if r]
        if rendered:
            for r in splitter.add(conversation.id, rendered)[: max(0, preview - len(shown))]:
                shown.append(json.loads(r.data))
    target = "Vertex AI" if run.spec.target == "vertex" else "OpenAI"
    splitter.finish(target)
    summary = report(run.tally, options, run.spec, run.limits, run.redact.counts)
    sink.file("summary.json", json.dumps(summary, ensure_ascii=False, indent=2) + "\n")
    sink.file("summary.md", markdown(summary))
    sink.file("tuning.toml", tuning_toml(run.spec))
    return summary, shown
