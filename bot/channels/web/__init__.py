"""The web chat: a chat box on the practice's own pages, and a full page at `/chat`.

- render.py: a reply as structured JSON the page builds with `textContent` (never HTML);
- guard.py: what a request must be (JSON, an allowed origin, ids, sizes), security headers;
- limits.py: token buckets per browser session and per IP address;
- api.py: the page, its assets and the JSON API, on the one web server;
- lifecycle.py: `WebChannel`, started and stopped by bot/run.py;
- static/: the page, its script and style, and `embed.js` for the practice's pages.
"""

from bot.channels.web.lifecycle import WebChannel

__all__ = ["WebChannel"]
