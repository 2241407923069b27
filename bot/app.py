"""Builds the engine from settings: flows, templates and the configured store."""

from __future__ import annotations

from pathlib import Path

from bot.engine.engine import Engine
from bot.engine.flow import load_flows
from bot.engine.render import Renderer
from bot.settings import Settings
from bot.store.base import ConversationStore
from bot.store.sqlite import SQLiteStore


def build_engine(settings: Settings, store: ConversationStore | None = None) -> Engine:
    """An engine on the settings' flows and templates, with SQLite unless a store is given."""
    flows = load_flows(Path(settings.dialogs_dir))
    renderer = Renderer(Path(settings.templates_dir))
    return Engine(flows, renderer, store or SQLiteStore(settings.database_path), settings)
