"""The tests' shared harnesses, one module per thing a test stands up, one definition per
fixture name. Modules with fixtures or hooks (stores, passwords, browsers, telegram, markers)
are pytest plugins that tests/conftest.py registers through `pytest_plugins`; the others hold
helpers a test module imports (and `discord` fixtures a module opts into).

- `stores`: the PostgreSQL test server, `store_kind`, `settings`, `engine`, `person` (a
  DialogClient); dialog stories run on SQLite, `@pytest.mark.every_store` tests on both.
- `passwords`: staff passwords hashed at a test-only argon2 cost.
- `browsers`: Debian's Chromium and `python -m bot run` for the browser tests.
- `telegram`: the fake Bot API, the bot running against it, its settings builders.
- `discord`: the fake Discord and the bot processes started against it (opt-in, see there).
- `logs`: what a DEBUG log line may not give away (contact details, ids), and the check.
- `flows`: a project with the hip flow beside the shipped ones.
- `screenings`: many people screened by a script, and the bot as real processes (helpers).
- `ports`: a free TCP port that no other test worker is handed at the same time.
- `markers`: `browser`, `process` and `postgres` put on tests by the fixtures they use, so
  `make test-fast` can leave them out.
"""
