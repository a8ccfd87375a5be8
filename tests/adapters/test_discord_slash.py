"""The Discord adapter's slash commands: real discord.py against the fake Discord.

What the engine answers is tested in tests/engine/; here, what it was handed and what
Discord got.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.commands import REGISTRY
from bot.types import CommandCall
from tests.adapters.discord_harness import (
    adapter,
    answered,
    discord_settings,
    echo,
    key,
    running_bot,
    session_for,
)
from tests.fakes.discord_api import FakeDiscord
from tests.fakes.engine import ScriptedEngine

CHANNEL = 901


# -- slash commands ------------------------------------------------------------------


async def test_each_slash_command_is_answered_through_the_interaction(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path):
        for command in REGISTRY.values():
            # Discord refuses a command without its required options before the bot sees it.
            required = {a.name: "x" for a in command.args if a.required}
            inter = await fake.slash(command.name, required, user_id=50)
            answer = await fake.wait_for(answered(fake, inter))
            assert inter.callback_type == 5, command.name  # deferred, then the original edited
            assert inter.ephemeral == command.private, command.name
            assert answer.content == f"re: /{command.name}"
            msg = engine.messages[-1]
            assert msg.command == CommandCall(command.name, " ".join(required.values()))
            assert msg.private == command.private, command.name
            assert (msg.text, msg.key, msg.is_direct) == ("", key(50, CHANNEL), False)
            assert (msg.message_id, msg.language) == (f"interaction:{inter.id}", "en-US")
    assert len(engine.messages) == len(REGISTRY)


@pytest.mark.parametrize(
    ("name", "options", "call"),
    [
        ("lang", {"language": "es"}, CommandCall("lang", "es")),
        ("persona", {"name": "pirate"}, CommandCall("persona", "pirate")),
        ("forget", {"what": "confirm"}, CommandCall("forget", "confirm")),
    ],
)
async def test_slash_options_arrive_as_the_command_s_arguments(
    fake: FakeDiscord, tmp_path: Path, name: str, options: dict[str, str], call: CommandCall
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path):
        inter = await fake.slash(name, options, user_id=51, channel_id=5051, locale="es-ES")
        await fake.wait_for(answered(fake, inter))
    [msg] = engine.messages
    assert (msg.command, msg.text) == (call, "")
    assert (msg.key, msg.is_direct, msg.language) == (key(51, 5051), True, "es-ES")


async def test_ask_with_a_slash_prompt_is_text_not_a_command(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine(echo)
    async with adapter(engine, fake, tmp_path):
        ask = await fake.slash("ask", {"prompt": "/forget confirm"}, user_id=52)
        answer = await fake.wait_for(answered(fake, ask))
        await fake.wait_for(lambda: answer.content == "re: /forget confirm")
    [msg] = engine.messages
    assert (msg.command, msg.text) == (None, "/forget confirm")
    assert not ask.ephemeral


async def test_a_slash_command_with_nothing_to_say_leaves_no_thinking(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    engine = ScriptedEngine([])  # e.g. a repeat: no events at all
    async with adapter(engine, fake, tmp_path):
        inter = await fake.slash("help", user_id=53)
        await fake.wait_for(lambda: inter.original_id and inter.original_id not in fake.messages)
    assert inter.callback_type == 5
    assert fake.bot_messages() == []


async def test_command_tree_sync_sends_every_command_with_spanish(
    fake: FakeDiscord, tmp_path: Path
) -> None:
    async with adapter(ScriptedEngine(), fake, tmp_path):
        pass
    payload = {c["name"]: c for c in fake.commands[f"/applications/{fake.app_id}/commands"]}
    assert set(payload) == set(REGISTRY) | {"ask"}
    for command in REGISTRY.values():
        sent = payload[command.name]
        assert sent["description"] == command.description["en"]
        spanish = command.description["es"]
        assert sent["description_localizations"] == {"es-ES": spanish, "es-419": spanish}
        options = {o["name"]: o for o in sent.get("options", [])}
        assert set(options) == {a.name for a in command.args}
        for arg in command.args:
            assert options[arg.name]["description_localizations"]["es-ES"] == arg.description["es"]
            assert options[arg.name]["required"] == arg.required
            assert [c["value"] for c in options[arg.name].get("choices", [])] == list(arg.choices)
    assert payload["ask"]["options"][0]["name"] == "prompt"
    assert payload["ask"]["options"][0]["required"] is True
    assert payload["ask"]["description_localizations"]["es-419"]


async def test_sync_goes_to_the_dev_guild_when_set(fake: FakeDiscord, tmp_path: Path) -> None:
    settings = discord_settings(fake, tmp_path, DISCORD_DEV_GUILD=fake.guild_id)
    async with running_bot(session_for(ScriptedEngine(), settings), settings):
        pass
    guild_path = f"/applications/{fake.app_id}/guilds/{fake.guild_id}/commands"
    assert list(fake.commands) == [guild_path]
    assert len(fake.commands[guild_path]) == len(REGISTRY) + 1
