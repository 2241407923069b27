"""Hand-off to the practice: booking links, leads, staff notifications."""
