"""Versioned schema changes, applied by the bot itself at start, in order, each once.

SQLite keeps its version in `PRAGMA user_version`; PostgreSQL in a `schema_migrations` table,
under an advisory lock so replicas starting together migrate once. A new change is a new entry
at the end of both lists; an entry already released is never edited.
"""

from __future__ import annotations

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
# a database made by them (IF NOT EXISTS), and `SQLITE_ADDED_COLUMNS` brings such a database's
# tables up to it.
SQLITE: list[str] = [
    """
    CREATE TABLE IF NOT EXISTS conversations (
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        data       TEXT NOT NULL,
        updated_at REAL NOT NULL,
        PRIMARY KEY (channel, user_id)
    ) WITHOUT ROWID;
    -- No index on updated_at: only the daily purge reads it, and every turn would pay for one.
    DROP INDEX IF EXISTS conversations_by_age;
    CREATE TABLE IF NOT EXISTS events (
        id      INTEGER PRIMARY KEY,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        flow    TEXT NOT NULL,
        kind    TEXT NOT NULL,
        detail  TEXT NOT NULL DEFAULT '',
        at      REAL NOT NULL,
        version TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX IF NOT EXISTS events_by_person ON events (channel, user_id);
    CREATE INDEX IF NOT EXISTS events_by_age ON events (at);
    CREATE TABLE IF NOT EXISTS leads (
        id         INTEGER PRIMARY KEY,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        email      TEXT NOT NULL,
        phone      TEXT NOT NULL,
        source     TEXT NOT NULL,
        flow       TEXT NOT NULL,
        drivers    TEXT NOT NULL,
        red_flag   TEXT,
        created_at REAL NOT NULL,
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
        created_at REAL NOT NULL,
        PRIMARY KEY (staff_chat, message_id)
    ) WITHOUT ROWID;
    CREATE INDEX IF NOT EXISTS relays_by_person ON relays (channel, user_id);
    CREATE TABLE IF NOT EXISTS consents (
        id           INTEGER PRIMARY KEY,
        channel      TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        kind         TEXT NOT NULL,
        version      TEXT NOT NULL,
        at           REAL NOT NULL,
        withdrawn_at REAL
    );
    CREATE INDEX IF NOT EXISTS consents_by_person ON consents (channel, user_id);
    -- Link clicks already counted: a pseudonym (never a user id or an address) and the link.
    CREATE TABLE IF NOT EXISTS clicks (
        clicker TEXT NOT NULL,
        target  TEXT NOT NULL,
        at      REAL NOT NULL,
        PRIMARY KEY (clicker, target)
    ) WITHOUT ROWID;
    """,
    """
    -- Updates applied, with the reply each got: a resent update is answered, not applied again.
    CREATE TABLE updates (
        channel   TEXT NOT NULL,
        update_id TEXT NOT NULL,
        user_id   TEXT NOT NULL,
        reply     TEXT NOT NULL,
        at        REAL NOT NULL,
        PRIMARY KEY (channel, update_id)
    ) WITHOUT ROWID;
    CREATE INDEX updates_by_person ON updates (channel, user_id);
    CREATE INDEX updates_by_age ON updates (at);
    -- Messages saved with their turn, deleted once the platform took them. AUTOINCREMENT: an
    -- id is never used twice (a plain rowid reuses the newest one once it is deleted), so a
    -- sender still holding a sent message's id cannot claim or delete a newer message.
    CREATE TABLE outbox (
        id            INTEGER PRIMARY KEY AUTOINCREMENT,
        channel       TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        turn          INTEGER NOT NULL,
        message       TEXT NOT NULL,
        created_at    REAL NOT NULL,
        next_at       REAL NOT NULL,
        claimed_until REAL NOT NULL DEFAULT 0,
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
        created_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX booking_refs_by_person ON booking_refs (channel, user_id);
    -- Booking webhooks already applied (the provider's event id): a replay is refused.
    CREATE TABLE booking_webhooks (
        id TEXT NOT NULL PRIMARY KEY,
        at REAL NOT NULL
    ) WITHOUT ROWID;
    """,
    """
    -- Follow-ups a person asked for: durable timers, fired once by whichever process finds
    -- them due (under the person's lock), so restarts, deploys and replicas neither lose nor
    -- repeat one.
    CREATE TABLE followups (
        id         INTEGER PRIMARY KEY AUTOINCREMENT,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        flow       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        due_at     REAL NOT NULL,
        status     TEXT NOT NULL DEFAULT 'pending',
        attempt    INTEGER NOT NULL DEFAULT 0,
        baseline   TEXT NOT NULL DEFAULT '{}',
        timezone   TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
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
        created_at    REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE staff_sessions (
        token_hash TEXT NOT NULL PRIMARY KEY,
        email      TEXT NOT NULL REFERENCES staff (email) ON DELETE CASCADE,
        csrf       TEXT NOT NULL,
        created_at REAL NOT NULL,
        expires_at REAL NOT NULL
    ) WITHOUT ROWID;
    CREATE INDEX staff_sessions_by_email ON staff_sessions (email);
    CREATE TABLE sign_in_failures (
        key      TEXT NOT NULL PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at  REAL NOT NULL
    ) WITHOUT ROWID;
    """,    QUEUED_BEHIND,
]

# Columns added to version-1 tables before versions were numbered, for databases made then.
SQLITE_ADDED_COLUMNS = {
    "events": {"version": "TEXT NOT NULL DEFAULT ''"},
    "leads": {"flow_version": "TEXT NOT NULL DEFAULT ''", "urgency": "TEXT",
              "consent_version": "TEXT NOT NULL DEFAULT ''"},
}

POSTGRES: list[str] = [
    """
    CREATE TABLE conversations (
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        data       TEXT NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (channel, user_id)
    );
    CREATE TABLE events (
        id      BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        channel TEXT NOT NULL,
        user_id TEXT NOT NULL,
        flow    TEXT NOT NULL,
        kind    TEXT NOT NULL,
        detail  TEXT NOT NULL DEFAULT '',
        at      DOUBLE PRECISION NOT NULL,
        version TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX events_by_person ON events (channel, user_id);
    CREATE INDEX events_by_age ON events (at);
    CREATE TABLE leads (
        id         BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        name       TEXT NOT NULL,
        email      TEXT NOT NULL,
        phone      TEXT NOT NULL,
        source     TEXT NOT NULL,
        flow       TEXT NOT NULL,
        drivers    TEXT NOT NULL,
        red_flag   TEXT,
        created_at DOUBLE PRECISION NOT NULL,
        flow_version TEXT NOT NULL DEFAULT '',
        urgency    TEXT,
        consent_version TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX leads_by_person ON leads (channel, user_id);
    CREATE TABLE relays (
        staff_chat TEXT NOT NULL,
        message_id TEXT NOT NULL,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (staff_chat, message_id)
    );
    CREATE INDEX relays_by_person ON relays (channel, user_id);
    CREATE TABLE consents (
        id           BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        channel      TEXT NOT NULL,
        user_id      TEXT NOT NULL,
        kind         TEXT NOT NULL,
        version      TEXT NOT NULL,
        at           DOUBLE PRECISION NOT NULL,
        withdrawn_at DOUBLE PRECISION
    );
    CREATE INDEX consents_by_person ON consents (channel, user_id);
    CREATE TABLE clicks (
        clicker TEXT NOT NULL,
        target  TEXT NOT NULL,
        at      DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (clicker, target)
    );
    """,
    """
    CREATE TABLE updates (
        channel   TEXT NOT NULL,
        update_id TEXT NOT NULL,
        user_id   TEXT NOT NULL,
        reply     TEXT NOT NULL,
        at        DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (channel, update_id)
    );
    CREATE INDEX updates_by_person ON updates (channel, user_id);
    CREATE INDEX updates_by_age ON updates (at);
    CREATE TABLE outbox (
        id            BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        channel       TEXT NOT NULL,
        user_id       TEXT NOT NULL,
        turn          BIGINT NOT NULL,
        message       TEXT NOT NULL,
        created_at    DOUBLE PRECISION NOT NULL,
        next_at       DOUBLE PRECISION NOT NULL,
        claimed_until DOUBLE PRECISION NOT NULL DEFAULT 0,
        attempts      INTEGER NOT NULL DEFAULT 0,
        last_error    TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX outbox_by_person ON outbox (channel, user_id, id);
    CREATE INDEX outbox_due ON outbox (next_at);
    """,
    """
    CREATE TABLE booking_refs (
        ref        TEXT NOT NULL PRIMARY KEY,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        flow       TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX booking_refs_by_person ON booking_refs (channel, user_id);
    CREATE TABLE booking_webhooks (
        id TEXT NOT NULL PRIMARY KEY,
        at DOUBLE PRECISION NOT NULL
    );
    """,
    """
    -- Follow-ups a person asked for: durable timers, fired once by whichever process finds
    -- them due (under the person's lock), so restarts, deploys and replicas neither lose nor
    -- repeat one.
    CREATE TABLE followups (
        id         BIGSERIAL PRIMARY KEY,
        channel    TEXT NOT NULL,
        user_id    TEXT NOT NULL,
        flow       TEXT NOT NULL,
        kind       TEXT NOT NULL,
        due_at     DOUBLE PRECISION NOT NULL,
        status     TEXT NOT NULL DEFAULT 'pending',
        attempt    INTEGER NOT NULL DEFAULT 0,
        baseline   TEXT NOT NULL DEFAULT '{}',
        timezone   TEXT NOT NULL DEFAULT '',
        created_at DOUBLE PRECISION NOT NULL,
        result     TEXT NOT NULL DEFAULT '{}',
        reason     TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX followups_due ON followups (status, due_at);
    CREATE INDEX followups_by_person ON followups (channel, user_id);
    """,
    """
    CREATE TABLE staff (
        email         TEXT NOT NULL PRIMARY KEY,
        password_hash TEXT NOT NULL,
        created_at    DOUBLE PRECISION NOT NULL
    );
    CREATE TABLE staff_sessions (
        token_hash TEXT NOT NULL PRIMARY KEY,
        email      TEXT NOT NULL REFERENCES staff (email) ON DELETE CASCADE,
        csrf       TEXT NOT NULL,
        created_at DOUBLE PRECISION NOT NULL,
        expires_at DOUBLE PRECISION NOT NULL
    );
    CREATE INDEX staff_sessions_by_email ON staff_sessions (email);
    CREATE TABLE sign_in_failures (
        key      TEXT NOT NULL PRIMARY KEY,
        failures INTEGER NOT NULL,
        last_at  DOUBLE PRECISION NOT NULL
    );
    """,
    QUEUED_BEHIND,
]
