"""Staff passwords at a test-only argon2 cost: the production cost (64 MiB, ~150 ms a hash on
the 2-core machine) in every sign-in and lock-out story made the dashboard tests a quarter of
the run. What the cost protects is argon2's, not ours: one test checks the bot uses the
production cost (tests/test_admin.py), every other story hashes at the cheapest."""

from __future__ import annotations

import pytest
from argon2 import profiles

from bot.admin.accounts import Passwords

TEST_COST = profiles.CHEAPEST  # 8 KiB, one pass: argon2-cffi's own profile for tests


@pytest.fixture(scope="session")
def passwords() -> Passwords:
    """Hashes and checks staff passwords at the cheapest argon2id cost."""
    return Passwords(TEST_COST)
