"""The small frozen types every layer shares: events, replies, conversations, records, effects,
the light markup, and the Outbox protocol. Imports nothing of the project above it."""
