"""Markers put on a test by the fixtures it uses (registered in pyproject.toml), so a marker
cannot be forgotten where the fixture is used: `make test-fast` runs `-m "not browser and not
process and not postgres"`. Tests that start processes without a fixture are marked where
they are written (a module's `pytestmark`, or the test's decorator)."""

from __future__ import annotations

import pytest

MARKED_BY_FIXTURE = {
    "browser": "browser",  # Debian's Chromium (tests/harness/browsers.py)
    "postgres_server": "postgres",  # a PostgreSQL server (tests/postgres.py)
}


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        for fixture, marker in MARKED_BY_FIXTURE.items():
            if fixture in getattr(item, "fixturenames", ()):
                item.add_marker(marker)
        if item.get_closest_marker("browser"):
            # One Chromium and one bot server per browser module (module-scoped fixtures):
            # under `--dist loadgroup` (make test) its tests stay on one worker.
            item.add_marker(pytest.mark.xdist_group(item.module.__name__))
