"""Engines on the real stores: SQLite for every dialog story, and PostgreSQL (on a server these
tests start, one per test process) for the tests marked `every_store`: the store's contract
suite and its concurrency, replica and crash stories. A dialog story decides the same on either
store; what could differ between them is the store's to show, once."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from bot.app import build_engine
from bot.settings import Settings, load_settings
from bot.tools.client import DialogClient
from bot.turns.runner import TurnRunner
from tests.postgres import PostgresServer

STORES = ("sqlite", "postgres")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """`store_kind` is "sqlite", or each of STORES for a test marked `every_store`."""
    if "store_kind" not in metafunc.fixturenames:
        return
    if any("store_kind" in str(mark.args[0])
           for mark in metafunc.definition.iter_markers("parametrize")):
        return  # the test names its own stores
    stores = STORES if metafunc.definition.get_closest_marker("every_store") else ("sqlite",)
    metafunc.parametrize("store_kind", stores, indirect=True)


@pytest.hookimpl(tryfirst=True)  # before pytest's -m selection
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A run on PostgreSQL is marked `postgres` (left out by `make test-fast`)."""
    for item in items:
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("store_kind") == "postgres":
            item.add_marker(pytest.mark.postgres)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL server per test process, on 127.0.0.1, in a temporary folder."""
    with PostgresServer() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> str:
    """A fresh, empty database on the test server (a schema of its own, see `schema`)."""
    return postgres_server.schema()


@pytest.fixture
def store_kind(request: pytest.FixtureRequest) -> str:
    """The store a test runs on: "sqlite", or each store for tests marked `every_store`."""
    return str(request.param)


@pytest.fixture
def settings(tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings on a temporary data folder; on PostgreSQL for tests on `store_kind` postgres."""
    if "store_kind" in request.fixturenames and request.getfixturevalue("store_kind") == "postgres":
        url = request.getfixturevalue("postgres_url")
        return load_settings(data_dir=tmp_path / "data", database_url=url)
    return load_settings(data_dir=tmp_path / "data")


@pytest.fixture
async def engine(settings: Settings, store_kind: str) -> AsyncIterator[TurnRunner]:
    """An engine on the settings' store (SQLite, or each store for `every_store` tests)."""
    engine = build_engine(settings)
    await engine.store.open()
    yield engine
    await engine.store.close()


@pytest.fixture
def person(engine: TurnRunner) -> DialogClient:
    """Alex, talking to the engine through the test client."""
    return DialogClient(engine, "alex")
