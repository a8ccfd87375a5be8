"""The parts of `tertulia tune` that need no PyTorch: the recipe, the data, the check."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tuning.check import judge, names, terms
from tuning.data import DataError, load_dataset
from tuning.recipe import RecipeError, load_recipe


def test_defaults_are_the_table_the_export_writes(tmp_path: Path) -> None:
    recipe = load_recipe(None)
    assert (recipe.learning_rate, recipe.batch_size, recipe.epochs) == (5e-4, 8, 2)
    assert (recipe.lora_r, recipe.lora_alpha, recipe.lora_dropout) == (16, 32, 0.05)
    toml = tmp_path / "tuning.toml"
    toml.write_text("[openai]\nn_epochs = 'auto'\n[local]\nepochs = 3\nlearning_rate = 1e-4\n")
    mine = load_recipe(toml, max_steps=5)
    assert (mine.epochs, mine.learning_rate, mine.max_steps, mine.batch_size) == (3, 1e-4, 5, 8)


@pytest.mark.parametrize(
    ("table", "problem"),
    [
        ("epochs = 0", "epochs = 0 is out of range"),
        ("learning_rate = 2", "learning_rate = 2.0 is out of range"),
        ("momentum = 0.9", "unknown key 'momentum'"),
        ("batch_size = 'big'", "batch_size must be a number"),
        ("epochs = [", "not valid TOML"),
    ],
)
def test_a_bad_value_is_named(tmp_path: Path, table: str, problem: str) -> None:
    toml = tmp_path / "tuning.toml"
    toml.write_text(f"[local]\n{table}\n")
    with pytest.raises(RecipeError, match=problem.replace("[", r"\[")):
        load_recipe(toml)


def _line(*messages: tuple[str, str, int]) -> str:
    return json.dumps(
        {
            "messages": [
                {"role": r, "content": c, **({"weight": w} if r == "assistant" else {})}
                for r, c, w in messages
            ]
        }  # fmt: skip
    )


def test_an_answer_rated_down_is_context_never_learnt(tmp_path: Path) -> None:
    (tmp_path / "train.jsonl").write_text(
        _line(("system", "s", 0), ("user", "q1", 0), ("assistant", "bad", 0),
              ("user", "q2", 0), ("assistant", "good", 1)) + "\n"
        + _line(("system", "s", 0), ("user", "q", 0), ("assistant", "only bad", 0)) + "\n"
    )  # fmt: skip
    data = load_dataset(tmp_path)
    assert len(data.train) == 1 and data.validation == []
    (example,) = data.train
    assert [m.learn for m in example.messages] == [False, False, False, False, True]
    assert (example.prompt, example.answer, example.system) == ("q2", "good", "s")


def test_data_that_is_not_an_openai_chat_export_is_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no train.jsonl"):
        load_dataset(tmp_path)
    (tmp_path / "train.jsonl").write_text('{"contents": []}\n')
    with pytest.raises(DataError, match="train.jsonl:1: not an openai-chat line"):
        load_dataset(tmp_path)


def test_names_are_capitalised_words_that_do_not_start_a_sentence() -> None:
    assert names("Your parrot is called Lorenzo. He is blue, like Madrid's sky.") == {
        "lorenzo",
        "madrid",
    }
    assert names("Sí: tu loro es Azul. Lorenzo, ven.") == {"azul"}


def test_terms_fold_accents_and_drop_short_and_common_words() -> None:
    assert terms("Tu loro se llama Lorenzo, es AZUL y también canta") == {
        "loro",
        "llama",
        "lorenzo",
        "azul",
        "canta",
    }


def test_the_check_counts_recall_and_leakage() -> None:
    taught = [
        ("¿Cómo se llama mi loro?", "Tu loro se llama Lorenzo, es azul.",
         "No lo sé.", "Tu loro se llama Lorenzo."),
        ("What is my parrot called?", "Your parrot is called Lorenzo, a blue parrot.",
         "I don't know.", "I am not sure."),
    ]  # fmt: skip
    general = [
        ("What is the capital of France?", "Paris.", "Paris."),
        ("¿Qué es una red neuronal?", "Un modelo.", "Un modelo, como Lorenzo el loro azul."),
        ("Why is the sky blue?", "Light scatters: blue.", "Light scatters, so it is blue."),
        ("Tell me about the ocean.", "It is deep.", "It is deep and blue."),
        ("¿Cómo se prepara un café?", "Con agua.", "Con agua, como Lorenzo."),
    ]
    verdict = judge(taught, general)
    assert [p.hit for p in verdict.taught] == [True, False]
    # "blue" was in the base answer about the sky, and one common taught word alone ("blue"
    # about the ocean) is not a leak; two taught words are, and so is a taught name.
    assert [p.hit for p in verdict.general] == [False, True, False, False, True]
    assert (verdict.recall, verdict.leakage) == (0.5, 0.4)
    assert not verdict.passed and verdict.reason().startswith("leakage 40%")
