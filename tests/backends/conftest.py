"""Shared by the backend tests: no proxy between the SDKs and the fakes, the fake Gemini."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.fakes.gemini_server import FakeGeminiServer


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)


@pytest.fixture
async def srv() -> AsyncIterator[FakeGeminiServer]:
    async with FakeGeminiServer() as server:
        yield server
