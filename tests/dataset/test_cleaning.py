"""Cleaning: every rule drops what it must, keeps what it must, and counts what it did."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bot.dataset.dedup import Deduper
from bot.dataset.language import detect
from bot.dataset.redact import Redactor
from bot.types import Outcome, TurnKind
from storage.sqlite import SqliteStore
from tests.dataset.conftest import Person, both, export, lines, preview, two_people


def files_besides_the_database(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if not p.name.startswith("tertulia.db")]


def texts(example: dict[str, Any]) -> list[str]:
    return [m["content"] for m in example["messages"] if m["role"] != "system"]


async def test_each_failed_or_unfit_exchange_is_dropped_counted_and_the_rest_kept_in_order(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    ann = Person(store)
    await ann.say(
        "Tell me about the history of Rome in two lines.", "Founded 753 BC; empire, then papacy."
    )
    await ann.say("Now one that failed", "half an ans", outcome=Outcome.FAILED)
    await ann.say("Something the provider blocked", "", outcome=Outcome.BLOCKED)
    await ann.say("Something stopped halfway", "Partial", outcome=Outcome.INTERRUPTED)
    undelivered = await ann.say("Something Telegram refused", "Never seen by anyone")
    await store.settle(undelivered, Outcome.UNDELIVERED)
    await ann.say("Something still waiting", None, outcome=Outcome.PENDING)
    await ann.say("/help", kind=TurnKind.COMMAND)
    await ann.say("x" * 50, kind=TurnKind.REJECTED)
    await ann.say("What is in this photo of mine?", "A cat sleeping on a sofa.", images=1)
    await ann.say(
        "And the history of Paris, briefly?", "Roman Lutetia, then the capital of France."
    )
    await ann.consent()

    summary = export(db_path, tmp_path, "openai-chat", validation=0)

    (example,) = both(tmp_path)
    assert texts(example) == [
        "Tell me about the history of Rome in two lines.",
        "Founded 753 BC; empire, then papacy.",
        "And the history of Paris, briefly?",
        "Roman Lutetia, then the capital of France.",
    ]
    assert summary["dropped"]["exchanges"] == {
        reason: 1
        for reason in (
            "blocked", "command", "failed", "images", "interrupted", "pending", "rejected",
            "undelivered",
        )
    }  # fmt: skip


async def test_a_replaced_answer_is_never_a_target_but_is_the_rejected_side_of_a_pair(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    ann = Person(store)
    first = await ann.say("Give me a name for a grey cat, please.", "Whiskers.")
    await ann.regenerate(first, "Ash, or Smokey.")
    failed = await ann.say("And one for a black dog, please?", "Shadow.")
    await ann.regenerate(failed, "", outcome=Outcome.FAILED)  # the old answer stands
    await ann.consent()

    sft = export(db_path, tmp_path / "sft", "vertex-sft", validation=0)
    dpo = export(db_path, tmp_path / "dpo", "openai-dpo", validation=0)

    (example,) = lines(tmp_path / "sft" / "train.jsonl")
    answers = [c["parts"][0]["text"] for c in example["contents"] if c["role"] == "model"]
    assert answers == ["Ash, or Smokey.", "Shadow."]
    assert sft["dropped"]["answers"] == {"superseded": 1, "failed": 1}
    (pair,) = lines(tmp_path / "dpo" / "train.jsonl")
    assert pair["preferred_output"][0]["content"] == "Ash, or Smokey."
    assert pair["non_preferred_output"][0]["content"] == "Whiskers."
    assert dpo["pairs"] == {"regenerated": 1}


async def test_a_thumbs_down_answer_is_dropped_for_vertex_and_kept_untrained_for_openai(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await two_people(store)
    vertex = export(db_path, tmp_path / "v", "vertex-sft", validation=0)
    openai = export(db_path, tmp_path / "o", "openai-chat", validation=0)
    assert vertex["dropped"]["exchanges"] == {"rated_down": 2}
    assert vertex["kept_as_context"] == {}
    assert openai["dropped"]["exchanges"] == {}
    assert openai["kept_as_context"] == {"rated_down": 2}
    assert openai["ratings"] == {"context down": 2, "target up": 2, "target unrated": 1}


async def test_min_rating_1_keeps_only_thumbs_up_answers_as_targets(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await two_people(store)
    dee = Person(store, "dee", chat="c-dee")
    asked = await dee.say("Suggest a board game for four people.", "Chess.")
    await dee.regenerate(asked, "Catan, or Ticket to Ride.")  # preferred, but unrated
    await dee.consent()

    vertex = export(db_path, tmp_path / "v", "vertex-sft", validation=0, min_rating=1)
    openai = export(db_path, tmp_path / "o", "openai-chat", validation=0, min_rating=1)
    dpo = export(db_path, tmp_path / "d", "openai-dpo", validation=0, min_rating=1)

    assert vertex["dropped"]["exchanges"] == {"rated_down": 2, "below_min_rating": 2}
    assert vertex["dropped"]["examples"] == {"no_target": 1}  # Dee rated nothing
    assert [len(e["contents"]) for e in lines(tmp_path / "v" / "train.jsonl")] == [2, 2]
    weights = [
        [m["weight"] for m in e["messages"] if m["role"] == "assistant"]
        for e in lines(tmp_path / "o" / "train.jsonl")
    ]
    assert weights == [[0, 1, 0], [1, 0]]
    assert openai["kept_as_context"] == {"below_min_rating": 2, "rated_down": 2}
    assert dpo["dropped"]["examples"] == {"below_min_rating": 1}
    assert dpo["examples"] == 2
    assert export(db_path, tmp_path / "d0", "openai-dpo", validation=0)["examples"] == 3


async def test_exact_and_near_duplicates_are_dropped_and_the_first_kept(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    long = " ".join(f"word{i}" for i in range(80))
    for name, question, answer in (
        ("amy", "How do I reset my password on the site?", "Use the 'Forgot password' link."),
        ("bea", "How do I reset my  PASSWORD on the site??", "Use the 'forgot password' link!"),
        ("cal", "Please repeat this list back to me.", long),
        ("dan", "Please repeat this list back to me.", long.replace("word79", "final")),
        ("eve", "Please repeat this list back to me.", long.replace("word40", "middle")
         .replace("word41", "other").replace("word42", "more").replace("word1 ", "x ")),
    ):  # fmt: skip
        person = Person(store, name, chat=f"c-{name}")
        await person.say(question, answer)
        await person.consent()

    summary = export(db_path, tmp_path, "vertex-sft", validation=0)

    assert summary["dropped"]["examples"] == {"duplicate_exact": 1, "duplicate_near": 1}
    kept = [e["contents"][1]["parts"][0]["text"] for e in lines(tmp_path / "train.jsonl")]
    assert kept[0] == "Use the 'Forgot password' link."  # Amy's, the first
    assert len(kept) == 3  # Amy, Cal, and Eve (about 0.86 alike: not a duplicate)


SECRETS = {
    "email": "ana.garcia+bot@example.org",
    "phone": "+34 612 34 56 78",
    "url_credentials": "https://admin:hunter2@db.example.com/prod",
    "mention": "<@987654321098765432>",
    "platform_id": "555666777",
    "telegram_token": "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_",
    "api_key": "sk-proj-Zx9aB7cD5eF3gH1iJ0kL2mN4oP6q",
    "discord_token": "MTA1MjM0NTY3ODkwMTIzNDU2Nzg5.GabcDE.abcdefghijklmnopqrstuvwxyz0123456",
    "secret": "q8Z2vT6nR1mK9xW4bY7cJ3hF5gD0sA8e",
}


async def test_identifiers_and_secrets_are_replaced_and_counted_by_kind(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    bystander = Person(store, SECRETS["platform_id"], chat="c-other")  # known to the store
    await bystander.say("hi", "hello")
    ann = Person(store)
    for kind, value in SECRETS.items():
        await ann.say(
            f"Remember this {kind.replace('_', ' ')}: {value} for later", f"Noted your {kind}."
        )
    await ann.say(
        "On 2024-01-15 I paid 1500 euros for 3 cats, ref 12345678901 at 10:30.",
        "The IP 192.168.100.200 and version 3.14159265358979 stay as they are.",
    )
    await ann.consent()

    out = tmp_path / "out"
    summary = export(db_path, out, "openai-chat", validation=0)

    written = "".join(p.read_text() for p in out.iterdir())
    for value in SECRETS.values():
        assert value not in written
    assert summary["redactions"] == dict.fromkeys(sorted(SECRETS), 1)
    (example,) = both(out)
    said = texts(example)
    assert said[0] == "Remember this email: [email] for later"
    assert said[6] == "Remember this mention: [mention] for later"
    assert said[-2] == "On 2024-01-15 I paid 1500 euros for 3 cats, ref 12345678901 at 10:30."
    assert said[-1] == "The IP 192.168.100.200 and version 3.14159265358979 stay as they are."


def test_the_redactor_tells_secrets_from_ordinary_text() -> None:
    redact = Redactor({"4242424242"})
    kept = [
        "state-of-the-art-machine-learning-approaches-for-2024",  # a slug: words and dashes
        "abcdefghijklmnopqrstuvwxyzabcdefghij",  # letters only
        "call me at 5 or 6, I have 123 things",
        "the year 2025 and the number 1234567",
        "tomorrow, 15/01/2025 at 09:00",
    ]
    assert [redact(t) for t in kept] == kept
    assert redact("my ids: 4242424242 and 4242424243") == "my ids: [user-id] and 4242424243"
    assert redact("mobile 612 345 678 or (555) 123-4567") == "mobile [phone] or [phone]"
    assert redact("sha 3f786850e387550fdab836ed7e6dc881de23001b") == "sha [secret]"
    assert redact.counts == {"platform_id": 1, "phone": 2, "secret": 1}


def test_keys_after_a_name_spanish_numbers_tokens_in_urls_and_jwts_are_redacted() -> None:
    redact = Redactor()
    cases = {
        "OPENAI_API_KEY=sk-proj-abcdefghijklmnopqrstuvwxyz0123456789": "OPENAI_API_KEY=[key]",
        "key=sk-abcdefghijklmnopqrstuvwx1234": "key=[key]",
        "AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE": "AWS_ACCESS_KEY_ID=[key]",
        "aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY": (
            "aws_secret_access_key=[secret]"
        ),
        "WhatsApp 654321987, o llama al 912345678": "WhatsApp [phone], o llama al [phone]",
        "https://api.telegram.org/bot123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1/getMe": (
            "https://api.telegram.org/bot[token]/getMe"
        ),
        "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlF": (
            "[token]"
        ),
        "escribe a ana.o'neil@example.com": "escribe a [email]",
    }
    assert {text: redact(text) for text in cases} == cases
    kept = "year 2023, count 123456789, 1500 euros on 2024-05-01"  # 1 is no Spanish number
    assert redact(kept) == kept


async def test_an_example_too_short_to_teach_anything_is_dropped(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    short = Person(store, "sue", chat="c-sue")
    await short.say("hola", "¡Hola! ¿Qué tal?")
    await short.consent()
    summary = export(db_path, tmp_path, "vertex-sft", validation=0)
    assert summary["dropped"]["examples"] == {"too_short": 1}
    assert summary["examples"] == 0
    assert summary["errors"] == ["no training examples: there is nothing to tune on"]


async def test_a_conversation_language_is_the_persons_choice_else_its_words(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    spoken = {
        "es": (
            "¿Me ayudas con una receta de tortilla de patatas?",
            "Claro: huevos, patatas y aceite.",
        ),
        "en": ("Can you help me with a recipe for pancakes?", "Sure: flour, milk and eggs."),
        "??": ("Tortilla?? 🥔🥚", "🍳 ok!! 👍👍 👍👍"),
    }
    for name, (question, answer) in spoken.items():
        person = Person(store, f"p{name}", chat=f"c-{name}")
        await person.say(question, answer)
        await person.consent()
    chose = Person(store, "chose-en", chat="c-chose")
    await chose.say(
        "Quiero practicar inglés contigo, por favor.", "Great, let's practise English then."
    )
    await store.set_lang(chose.id, "en")
    await chose.consent()

    everyone = export(db_path, tmp_path / "all", "vertex-sft", validation=0)
    spanish = export(db_path, tmp_path / "es", "vertex-sft", validation=0, language="es")

    assert everyone["languages"] == {"en": 2, "es": 1, "unknown": 1}
    assert spanish["examples"] == 1
    # A person who chose English is left out by the query; the others by their words.
    assert spanish["conversations"]["read"] == 3
    assert spanish["dropped"]["conversations"] == {"language": 2}
    assert detect(["the cat is on the table"]) == "en"
    assert detect(["el gato está en la mesa"]) == "es"
    assert detect(["ok"]) is None


def test_near_duplicates_need_jaccard_of_at_least_0_9() -> None:
    words = [f"w{i}" for i in range(100)]
    dedup = Deduper()
    assert dedup.check(" ".join(words)) == ""
    assert dedup.check(" ".join(words[:-1] + ["changed"])) == "near"  # 97 of 99 shingles
    far = words.copy()
    for i in range(0, 100, 10):
        far[i] = "x"
    assert dedup.check(" ".join(far)) == ""  # a word in ten changed: about 0.5 alike


async def test_a_preview_shows_cleaned_examples_and_writes_nothing(
    store: SqliteStore, db_path: Path, tmp_path: Path
) -> None:
    await two_people(store)
    shown = preview(db_path, "openai-dpo", n=1)
    assert len(shown) == 1
    assert shown[0]["preferred_output"][0]["content"] == "La capital de Italia es Roma."
    assert files_besides_the_database(tmp_path) == []
