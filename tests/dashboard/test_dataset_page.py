"""The dataset page in AppTest: filters, a preview of cleaned examples, the zip to download."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

from streamlit.testing.v1 import AppTest

from adapters.dashboard.tuning import RESULT
from tests.dashboard.conftest import MakeApp


def _dataset_page(make_app: MakeApp, db: Path) -> AppTest:
    at = make_app(db).run()
    at.switch_page("views/dataset.py").run()
    assert not at.exception
    at.selectbox(key="ds_format").set_value("openai-chat")
    return at


def _button(at: AppTest, label: str) -> None:
    (button,) = [b for b in at.button if b.label == label]
    button.click().run()
    assert not at.exception


def test_the_preview_shows_cleaned_examples_of_consenting_people_only(
    filled: Path, make_app: MakeApp
) -> None:
    at = _dataset_page(make_app, filled)
    _button(at, "Preview")
    (example,) = [json.loads(j.value) for j in at.json[:-1]]  # the last is the whole summary
    said = [(m["role"], m["content"]) for m in example["messages"] if m["role"] != "system"]
    assert said[:2] == [
        ("user", "Hola, ¿me ayudas con una paella?"),
        ("assistant", "Reply to: Hola, ¿me ayudas con una paella?"),
    ]
    assert "monad" not in json.dumps([j.value for j in at.json])  # Bob never consented
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training examples"] == "1" and metrics["Conversations"] == "1 / 1"
    # The target's own limits are said, not hidden: OpenAI wants at least 10 examples.
    assert any("fewer than 10" in e.value for e in at.error)
    assert not at.download_button


def test_the_export_offers_every_written_file_in_one_zip(filled: Path, make_app: MakeApp) -> None:
    at = _dataset_page(make_app, filled)
    at.selectbox(key="ds_platform").set_value("telegram")
    _button(at, "Export")
    (download,) = at.download_button
    assert download.label == "Download the dataset (zip)"
    kind, summary, payload, name = at.session_state[RESULT]
    assert (kind, name[-4:]) == ("export", ".zip")
    with zipfile.ZipFile(io.BytesIO(payload)) as archive:
        names = sorted(archive.namelist())
        train = archive.read("train.jsonl").decode()
        written = json.loads(archive.read("summary.json"))
    assert names == [
        "summary.json",
        "summary.md",
        "train.jsonl",
        "tuning.toml",
        "validation.jsonl",
    ]
    assert "Reply to: ¿Y cuánto arroz?" in train
    assert written["options"]["platform"] == "telegram"
    assert written["files"] == summary["files"]


def test_a_platform_with_no_consenting_person_gives_an_empty_dataset(
    filled: Path, make_app: MakeApp
) -> None:
    at = _dataset_page(make_app, filled)
    at.selectbox(key="ds_platform").set_value("discord")
    _button(at, "Preview")
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Training examples"] == "0"
    assert not at.json[:-1]
