"""Each person's control of their memory, through the engine: see, add, erase, export, link."""

from __future__ import annotations

import json
import re
import sqlite3
import time
from pathlib import Path

from bot.i18n import t
from bot.memory_commands import code_hash
from bot.types import Done
from storage.sqlite import SqliteStore
from tests.conftest import MakeEngine, collect, command, events, msg
from tests.engine.memory_model import MemoryModel


async def test_remember_memory_and_forget_one_fact(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    engine = make_engine(MemoryModel())
    assert await collect(engine, command("/remember")) == t("remember_usage", "en")
    done = await collect(engine, command("/remember Soy alérgica a las nueces"))
    fact_id = int(re.findall(r"#(\d+)", done)[0])
    assert await collect(engine, command("/remember soy ALERGICA a las nueces.")) == t(
        "remember_known", "en"
    )
    await collect(engine, command("/remember Mi gata se llama Mora", user="u2"))
    await collect(engine, msg("hola"))
    listing = await collect(engine, command("/memory"))
    assert f"#{fact_id}" in listing and "Soy alérgica a las nueces" in listing
    assert "Mora" not in listing  # someone else's
    assert "2 messages" in listing or "messages of yours" in listing
    # Another person cannot erase it, even knowing its number.
    assert await collect(engine, command(f"/forget {fact_id}", user="u2")) == t(
        "forget_fact_unknown", "en", id=fact_id
    )
    assert await collect(engine, command(f"/forget #{fact_id}")) == t(
        "forget_fact_done", "en", id=fact_id
    )
    assert "nueces" not in await collect(engine, command("/memory"))
    assert await collect(engine, command("/forget")) == t("forget_confirm", "en")


async def test_memory_answers_in_spanish(make_engine: MakeEngine) -> None:
    engine = make_engine(MemoryModel())
    listing = await collect(engine, command("/memory", language="es"))
    assert listing.startswith("Guardo ") and t("memory_no_facts", "es") in listing


async def test_personal_commands_are_refused_where_the_group_would_see(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(MemoryModel())
    await collect(engine, command("/remember Vivo en Lugo", chat="g", is_direct=False))
    for name in ("memory", "export", "link"):
        got = await events(engine, command(f"/{name}", chat="g", is_direct=False))
        assert got[0] == t("private_only", "en", name=name)
        assert isinstance(got[-1], Done) and got[-1].attachment is None
    # A Discord ephemeral answer is seen by the sender only: allowed.
    private = await collect(engine, command("/memory", chat="g", is_direct=False, private=True))
    assert "Vivo en Lugo" in private


async def test_export_is_complete_valid_json_of_that_person_only(
    make_engine: MakeEngine,
) -> None:
    engine = make_engine(MemoryModel())
    await collect(engine, msg("Mi perro es Toby", message_id="1"))
    await collect(engine, command("/new"))
    await collect(engine, msg("Mi perro come trufas", message_id="2"))
    await collect(engine, command("/remember Tiene un perro"))
    await collect(engine, msg("Secreto de otra persona", user="u2"))
    await collect(engine, command("/remember Dato de otra persona", user="u2"))
    got = await events(engine, command("/export"))
    done = got[-1]
    assert isinstance(done, Done) and done.attachment is not None
    assert (
        done.attachment.name.endswith(".json") and done.attachment.mime_type == "application/json"
    )
    data = json.loads(done.attachment.data)
    assert data["format"] == "tertulia-export/1"
    texts = [m["text"] for c in data["conversations"] for m in c["messages"]]
    assert "Mi perro es Toby" in texts and "Mi perro come trufas" in texts
    assert "reply-1" in texts and "/new" in texts
    assert [f["text"] for f in data["facts"]] == ["Tiene un perro"]
    assert len(data["conversations"]) == 2 and data["identities"][0]["user_id"] == "u1"
    blob = done.attachment.data.decode()
    assert "otra persona" not in blob
    assert isinstance(got[0], str) and "2 conversations" in got[0]


async def test_link_joins_two_platforms_and_unlink_separates_them(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    model = MemoryModel()
    engine = make_engine(model)
    tg = {"platform": "telegram", "user": "111", "chat": "111"}
    dc = {"platform": "discord", "user": "999", "chat": "dm-999"}
    await collect(engine, command("/lang es", **tg))
    await collect(engine, command("/remember Trabajo de enfermera", **tg))
    await collect(engine, msg("Mi huerto tiene tomates", **tg))
    await collect(engine, command("/new", **tg))
    answer = await collect(engine, command("/link", **tg))
    code = re.findall(r"/link ([A-Z0-9]{8})", answer)[0]
    assert re.search(r"\b[A-Z0-9]{4}-[A-Z0-9]{4}\b", answer)
    assert await collect(engine, command(f"/link {code}", **tg)) == t("link_own", "es")
    linked = await collect(engine, command(f"/link {code.lower()[:4]}-{code.lower()[4:]}", **dc))
    assert linked == t("link_linked", "es")  # in the language the person chose
    # Single use.
    assert await collect(engine, command(f"/link {code}", **dc)) == t("link_invalid", "es")
    # Language, facts and earlier conversations now follow the person to Discord.
    assert (await collect(engine, command("/lang", **dc))) == t("lang_current", "es")
    await collect(engine, msg("¿Qué tomates tengo en el huerto?", **dc))
    system = model.chats[-1][0]
    assert "Trabajo de enfermera" in system and "Mi huerto tiene tomates" in system
    assert "cuenta" in await collect(engine, command("/memory", **dc))
    # Separated: each side keeps what it wrote, and the person's choices.
    assert await collect(engine, command("/unlink", **dc)) == t("unlink_done", "es")
    assert await collect(engine, command("/unlink", **dc)) == t("unlink_none", "es")
    await collect(engine, msg("¿Qué tomates tengo en el huerto?", message_id="x", **dc))
    system = model.chats[-1][0]
    assert "enfermera" not in system and "Mi huerto" not in system
    assert "enfermera" in await collect(engine, command("/memory", **tg))


async def test_unlinking_the_first_account_leaves_the_others_their_choices(
    make_engine: MakeEngine, store: SqliteStore
) -> None:
    engine = make_engine(MemoryModel())
    a = {"platform": "telegram", "user": "1", "chat": "1"}
    b = {"platform": "discord", "user": "2", "chat": "2"}
    await collect(engine, command("/persona tutor", **a))
    code = re.findall(r"/link ([A-Z0-9]{8})", await collect(engine, command("/link", **a)))[0]
    await collect(engine, command(f"/link {code}", **b))
    await collect(engine, command("/unlink", **a))  # the identity the other read from
    other = await store.find_user("discord", "2")
    assert other is not None and other.persona == "tutor" and other.ids == (other.id,)


async def test_link_codes_expire_and_guessing_is_limited(
    make_engine: MakeEngine, store: SqliteStore, db_path: Path
) -> None:
    engine = make_engine(MemoryModel())
    await collect(engine, msg("hola", platform="telegram", user="1"))
    owner = await store.find_user("telegram", "1")
    assert owner is not None
    await store.issue_link(owner.id, code_hash("OLDCODE2"), time.time() - 1)
    dc = {"platform": "discord", "user": "2", "chat": "2"}
    assert await collect(engine, command("/link OLDCODE2", **dc)) == t("link_invalid", "en")
    for _ in range(3):
        assert await collect(engine, command("/link WRONGONE", **dc)) == t("link_invalid", "en")
    await collect(engine, command("/link", platform="telegram", user="1", chat="1"))
    assert await collect(engine, command("/link WRONGTWO", **dc)) == t("link_invalid", "en")
    # The sixth try within ten minutes is refused, even with the right code.
    assert await collect(engine, command("/link ANYTHING", **dc)) == t("link_too_many", "en")
    with sqlite3.connect(db_path) as raw:
        stored = [r[0] for r in raw.execute("SELECT code_hash FROM link_codes")]
    assert stored and all(len(h) == 64 for h in stored)  # hashes only, never the code


async def test_a_code_typed_where_a_group_sees_it_is_burnt(make_engine: MakeEngine) -> None:
    engine = make_engine(MemoryModel())
    code = re.findall(r"/link ([A-Z0-9]{8})", await collect(engine, command("/link", user="a")))[0]
    shown = await collect(engine, command(f"/link {code}", user="a", chat="g", is_direct=False))
    assert shown == t("link_burnt", "en")
    # Someone in the group who saw it cannot use it from their own private chat.
    assert await collect(engine, command(f"/link {code}", user="b", chat="b")) == t(
        "link_invalid", "en"
    )
