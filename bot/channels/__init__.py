"""Channels: platform updates in, engine Events; engine Replies out, platform messages."""
