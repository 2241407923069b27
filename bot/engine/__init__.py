"""Platform-neutral dialog engine: Event in, Reply out (the types live in bot.core)."""
