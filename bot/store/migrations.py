"""Versioned schema changes, applied by the bot itself at start, in order, each once.

The schema is written once (`SCHEMA`), in the SQL both databases speak; where they differ it
says so with a word (`$real`, `$row_id`, ...) that `DIALECTS` spells for each, and `SQLITE`
and `POSTGRES` are the scripts each runs. SQLite keeps its version in `PRAGMA user_version`;
PostgreSQL in a `schema_migrations` table, under an advisory lock so replicas starting together
migrate once. A new change is a new entry at the end of `SCHEMA`; an entry already released is
never edited.
"""

from __future__ import annotations

from string import Template

# Set on a waiting message when another to the same person is queued behind it: its sender
# looks for the next one only then (bot/store/outbox.py, `enqueue_all`). Rows already waiting with
# one behind them get it now. The same SQL on both stores.
QUEUED_BEHIND = """
    ALTER TABLE outbox ADD COLUMN queued_behind INTEGER NOT NULL DEFAULT 0;
    UPDATE outbox SET queued_behind = 1 WHERE EXISTS (
        SELECT 1 FROM outbox AS later WHERE later.channel = outbox.channel
        AND later.user_id = outbox.user_id AND later.id > outbox.id);
"""

# Version 1 is the schema of the first releases; its statements are written to be harmless on
# a SQLite file made by them (IF NOT EXISTS), and `SQLITE_ADDED_COLUMNS` brings such a file's
# tables up to it (PostgreSQL came later: its databases start empty).
SCHEMA: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS conversations (
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        data       TEXT NOT NULL,
        updated_at $real NOT NULL,
        PRIMARY KEY (channel, user_id)
    )$without_rowid;
    -- No index on updated_at: only the daily purge reads it, and every turn would pay for one.
    DROP INDEX IF EXISTS conversations_by_age;
    CREATE TABLE IF NOT EXISTS events (
        id      $row_id,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        flow    TEXT NOT NULL,
        kind    TEXT NOT NULL,
        detail  TEXT NOT NULL DEFAULT '',
        at      $real NOT NULL,
        version TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX IF NOT EXISTS events_by_person ON events (channel, user_id);
    CREATE INDEX IF NOT EXISTS events_by_age ON events (at);
    CREATE TABLE IF NOT EXISTS leads (
        id         $row_id,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        email      TEXT NOT NULL,
        phone      TEXT NOT NULL,
        source     TEXT NOT NULL,
        flow       TEXT NOT NULL,
        drivers    TEXT NOT NULL,
        red_flag   TEXT,
        created_at $real NOT NULL,
        flow_version TEXT NOT NULL DEFAULT '',
        urgency    TEXT,
        consent_version TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX IF NOT EXISTS leads_by_person ON leads (channel, user_id);
    CREATE TABLE IF NOT EXISTS relays (
        staff_chat TEXT NOT NULL,
        message_id TEXT NOT NULL,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        created_at $real NOT NULL,
        PRIMARY KEY (staff_chat, message_id)
    )$without_rowid;
    CREATE INDEX IF NOT EXISTS relays_by_person ON relays (channel, user_id);
    CREATE TABLE IF NOT EXISTS consents (
        id           $row_id,
        channel      TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        kind         TEXT NOT NULL,
        version      TEXT NOT NULL,
        at           $real NOT NULL,
        withdrawn_at $real
    );
    CREATE INDEX IF NOT EXISTS consents_by_person ON consents (channel, user_id);
    -- Link clicks already counted: a pseudonym (never a user id or an address) and the link.
    CREATE TABLE IF NOT EXISTS clicks (
        clicker TEXT NOT NULL,
        target  TEXT NOT NULL,
        at      $real NOT NULL,
        PRIMARY KEY (clicker, target)
    )$without_rowid;
    """,
    """
    -- Updates applied, with the reply each got: a resent update is answered, not applied again.
    CREATE TABLE updates (
        channel   TEXT NOT NULL,
        update_id TEXT NOT NULL,
        user_id   TEXT NOT NULL,
        reply     TEXT NOT NULL,
        at        $real NOT NULL,
        PRIMARY KEY (channel, update_id)
    )$without_rowid;
    CREATE INDEX updates_by_person ON updates (channel, user_id);
    CREATE INDEX updates_by_age ON updates (at);
    -- Messages saved with their turn, deleted once the platform took them. AUTOINCREMENT: an
    -- id is never used twice (a plain rowid reuses the newest one once it is deleted), so a
    -- sender still holding a sent message's id cannot claim or delete a newer message.
    CREATE TABLE outbox (
        id            $lasting_id,
        channel       TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        turn          $bigint NOT NULL,
        message       TEXT NOT NULL,
        created_at    $real NOT NULL,
        next_at       $real NOT NULL,
        claimed_until $real NOT NULL DEFAULT 0,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outbox_by_person ON outbox (channel, user_id, id);
    CREATE INDEX outbox_due ON outbox (next_at);
    """,
    """
    -- Booking references: the opaque token a booking link carries, and whose screening it is.
    CREATE TABLE booking_refs (
        ref        TEXT NOT NULL PRIMARY KEY,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        flow       TEXT NOT NULL,
        created_at $real NOT NULL
    )$without_rowid;
    CREATE INDEX booking_refs_by_person ON booking_refs (channel, user_id);
    -- Booking webhooks already applied (the provider's event id): a replay is refused.
    CREATE TABLE booking_webhooks (
        id TEXT NOT NULL PRIMARY KEY,
        at $real NOT NULL
    )$without_rowid;
    """,
    """
    -- Follow-ups a person asked for: durable timers, fired once by whichever process finds
    -- them due (under the person's lock), so restarts, deploys and replicas neither lose nor
    -- repeat one.
    CREATE TABLE followups (
        id         $serial_id,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        flow       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        due_at     $real NOT NULL,
        status     TEXT NOT NULL DEFAULT 'pending',
        attempt    INTEGER NOT NULL DEFAULT 0,
        baseline   TEXT NOT NULL DEFAULT '{}',
        timezone   TEXT NOT NULL DEFAULT '',
        created_at $real NOT NULL,
        result     TEXT NOT NULL DEFAULT '{}',
        reason     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX followups_due ON followups (status, due_at);
    CREATE INDEX followups_by_person ON followups (channel, user_id);
    """,
    """
    -- The practice's dashboard (/admin): staff accounts (an argon2 hash, never a password),
    -- their sessions (a hash of the cookie's token, never the token) and failed sign-ins
    -- counted per account and per address (keyed by a hash, never the address typed).
    CREATE TABLE staff (
        email         TEXT NOT NULL PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at    $real NOT NULL
    )$without_rowid;
    CREATE TABLE staff_sessions (
        token_hash TEXT NOT NULL PRIMARY KEY,
        email      TEXT NOT NULL REFERENCES staff (email) ON DELETE CASCADE,
        csrf       TEXT NOT NULL,
        created_at $real NOT NULL,
        expires_at $real NOT NULL
    )$without_rowid;
    CREATE INDEX staff_sessions_by_email ON staff_sessions (email);
    CREATE TABLE sign_in_failures (
        key      TEXT NOT NULL PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at  $real NOT NULL
    )$without_rowid;
    """,
    QUEUED_BEHIND,
    """
    -- Staff's work on a lead: each status change and note, in order, by whom (the audit).
    CREATE TABLE lead_notes (
        id      $row_id,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        kind    TEXT NOT NULL,
        text    TEXT NOT NULL,
        staff   TEXT NOT NULL,
        at      $real NOT NULL
    );
    CREATE INDEX lead_notes_by_person ON lead_notes (channel, user_id);
    """,
]

# Columns added to version-1 tables before versions were numbered, for databases made then.
SQLITE_ADDED_COLUMNS = {
    "events": {"version": "TEXT NOT NULL DEFAULT ''"},
    "leads": {"flow_version": "TEXT NOT NULL DEFAULT ''", "urgency": "TEXT",
              "consent_version": "TEXT NOT NULL DEFAULT ''"},
}

# What each database calls the few things they spell differently.
DIALECTS: dict[str, dict[str, str]] = {
    "sqlite": {
        "real": "REAL",
        "bigint": "INTEGER",  # SQLite's integers are 64-bit already
        # A row's id: on SQLite the rowid itself, which may be reused once the newest is deleted.
        "row_id": "INTEGER PRIMARY KEY",
        # An id never used twice (see the outbox).
        "lasting_id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        "serial_id": "INTEGER PRIMARY KEY AUTOINCREMENT",
        # A table keyed by its primary key alone, without a hidden rowid beside it.
        "without_rowid": " WITHOUT ROWID",
    },
    "postgres": {
        "real": "DOUBLE PRECISION",
        "bigint": "BIGINT",
        "row_id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        "lasting_id": "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
        # Version 4 was released with a serial id here: kept, so that every database has the
        # same schema whichever release made it.
        "serial_id": "BIGSERIAL PRIMARY KEY",
        "without_rowid": "",
    },
}


def in_dialect(dialect: str) -> list[str]:
    """The migrations as one database runs them."""
    return [Template(script).substitute(DIALECTS[dialect]) for script in SCHEMA]


SQLITE = in_dialect("sqlite")
POSTGRES = in_dialect("postgres")
