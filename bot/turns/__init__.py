"""The turn runner: the one place a person's conversation changes (runner.py), the effects it
carries out (effects.py), the outbox it sends from (outbox.py) and the check-in timer
(checkins.py)."""
