"""Telegram's HTML parse mode as the fake reads it: text plus entities with UTF-16 offsets.

A port of what really runs behind the Bot API, so the fake accepts and refuses what Telegram
does, with its words:

- `parse_entities`: the Bot API server's checks on a message text (telegram-bot-api,
  telegram-bot-api/Client.cpp, `get_input_message_text` and `get_formatted_text`) and tdlib's HTML
  parser (tdlib/td, td/telegram/MessageEntity.cpp, `parse_html` and `decode_html_entity`), whose
  errors the Bot API answers as "Bad Request: can't parse entities: <tdlib's message>"
  (td/telegram/SynchronousRequests.cpp, `parseTextEntities`);
- `fix_text`: what tdlib does next to the text of a message a bot sends
  (td/telegram/MessageEntity.cpp `fix_formatted_text`, td/telegram/misc.cpp
  `clean_input_string`, td/telegram/MessageContent.cpp for the length limit);
- `check_link`: tdlib's check of a link (td/telegram/LinkManager.cpp `check_link_impl`, over
  tdutils/td/utils/HttpUrl.cpp `parse_url`), for `<a href>` and for URL buttons.

The Bot API turns a tdlib error "Xyz" into "Bad Request: xyz" (first letter lowered,
Client.cpp `fail_query_with_error`): the descriptions below are written the way a bot gets them.
What Telegram would refuse raises `RejectedHtml`; the wire server answers it with 400.

Not modelled: the entities Telegram finds by itself in the text (url, mention, hashtag,
bot_command...), `tg://user?id=` links becoming text mentions, MarkdownV2.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any

# tdlib (td/telegram/MessageContent.cpp, inputMessageText): a bot's text may have at most
# `message_text_length_max` (4096) characters, counted by utf8_length, i.e. in Unicode code
# points after entity parsing, not in UTF-16 code units (offsets are UTF-16, the limit is not).
MAX_TEXT_LENGTH = 4096
# telegram-bot-api Client.cpp get_formatted_text: the raw text may have at most 1 << 15 bytes.
MAX_RAW_TEXT_BYTES = 1 << 15
# tdlib MessageEntity.cpp get_input_message_entities: "MAX_USER_ENTITY_COUNT = 100; //
# server-side limit"; entities past it are not sent to Telegram, so they are silently lost.
MAX_ENTITIES = 100
# The tags of tdlib's parse_html (and the Bot API docs, "HTML style"); anything else is refused.
SUPPORTED_TAGS = {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler",
                  "tg-emoji", "tg-time", "span", "pre", "code", "blockquote"}
SIMPLE_TAGS = {"b": "bold", "strong": "bold", "i": "italic", "em": "italic", "s": "strikethrough",
               "strike": "strikethrough", "del": "strikethrough", "u": "underline",
               "ins": "underline", "tg-spoiler": "spoiler", "span": "spoiler"}
# Entities tdlib sends after the others and splits (MessageEntity.cpp is_splittable_entity).
SPLITTABLE = {"bold", "italic", "underline", "strikethrough", "spoiler"}
ENTITIES_PREFIX = "Bad Request: can't parse entities: "
_INT64 = re.compile(r"-?[0-9]+")  # tdutils to_integer_safe<int64>

Entity = dict[str, Any]


class RejectedHtml(ValueError):
    """HTML Telegram would answer with 400 Bad Request; the message is Telegram's description."""


def parse_html(html: str) -> tuple[str, list[Entity]]:
    """Text and entities of an HTML message as Telegram keeps it, or RejectedHtml like its 400."""
    return fix_text(*parse_entities(html))


def utf16_length(text: str) -> int:
    """Length as Telegram counts offsets: characters outside the BMP count twice."""
    return len(text.encode("utf-16-le")) // 2


# -- the Bot API server and tdlib's parse_html ------------------------------------------------


def parse_entities(html: str, parse_mode: str = "HTML") -> tuple[str, list[Entity]]:
    """What the Bot API makes of `text` and `parse_mode` before tdlib sends it: the text
    still untrimmed, the entities of the markup (`parse_mode` "" or "none": plain text)."""
    if not html:  # Client.cpp get_input_message_text: "Message text is empty"
        raise RejectedHtml("Bad Request: message text is empty")
    raw = _utf8(html)
    if len(raw) > MAX_RAW_TEXT_BYTES:  # Client.cpp get_formatted_text: "Text is too long"
        raise RejectedHtml("Bad Request: text is too long")
    mode = parse_mode.lower()  # Client.cpp get_formatted_text lowers it
    if mode in ("", "none"):
        return html, []
    if mode in ("markdown", "markdownv2"):
        raise RejectedHtml(f"Bad Request: the fake Telegram does not parse {parse_mode} "
                           "(tests/fakes/telegram/entities.py)")
    if mode != "html":
        raise RejectedHtml("Bad Request: unsupported parse_mode")
    try:
        return _HtmlParser(raw).parse()
    except _ParseError as error:
        raise RejectedHtml(ENTITIES_PREFIX + str(error)) from None


class _ParseError(ValueError):
    """tdlib's own words for an HTML error (the Bot API puts them after its prefix)."""


def _utf8(text: str) -> bytes:
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:  # a lone surrogate: tdlib "Strings must be encoded in UTF-8"
        raise RejectedHtml("Bad Request: strings must be encoded in UTF-8") from None


def _is_space(c: int) -> bool:  # tdutils/td/utils/misc.h is_space: the end of the string too
    return c in (0x20, 0x09, 0x0D, 0x0A, 0x00, 0x0B)


def _is_alpha(c: int) -> bool:  # tdutils misc.h is_alpha: ASCII letters only
    return 0x61 <= (c | 0x20) <= 0x7A and c < 0x80


def _is_digit(c: int) -> bool:
    return 0x30 <= c <= 0x39


def _is_hex(c: int) -> bool:
    return _is_digit(c) or (0x61 <= (c | 0x20) <= 0x66 and c < 0x80)


def _lower(data: bytes) -> str:  # tdutils to_lower: ASCII only
    return data.decode("utf-8", "replace").translate({c: c + 32 for c in range(65, 91)})


@dataclass
class _Open:
    """A start tag waiting for its end tag."""

    tag: str
    argument: str
    date: int
    offset: int  # UTF-16 offset in the text where its entity starts
    start: int  # byte offset in the text written so far, where the tag's content starts


class _HtmlParser:
    """tdlib's parse_html, byte for byte: `at(i)` is 0 past the end, as in its C string."""

    def __init__(self, raw: bytes) -> None:
        self.raw = raw
        self.out = bytearray()
        self.entities: list[Entity] = []
        self.utf16 = 0
        self.open: list[_Open] = []

    def at(self, i: int) -> int:
        return self.raw[i] if i < len(self.raw) else 0

    def parse(self) -> tuple[str, list[Entity]]:
        i = 0
        while i < len(self.raw):
            c = self.raw[i]
            if c == 0x26:  # &
                code, end = self.entity_at(i)
                if code:
                    self.append(code)
                    i = end
                    continue
            if c != 0x3C:  # <
                if c & 0xC0 != 0x80:  # the first byte of a character
                    self.utf16 += 2 if c >= 0xF0 else 1
                self.out.append(c)
                i += 1
                continue
            i = self.end_tag(i) if self.at(i + 1) == 0x2F else self.start_tag(i)
        if self.open:
            raise _ParseError("Can't find end tag corresponding to start tag "
                              f'"{self.open[-1].tag}"')
        for entity in self.entities:  # tdlib keeps a language only on pre
            if entity["type"] == "code":
                entity.pop("language", None)
        return self.out.decode("utf-8"), _sorted(self.entities)

    def append(self, code: int) -> None:
        if 0xD800 <= code <= 0xDFFF:  # tdlib checks the UTF-8 again at the end: it fails
            raise _ParseError("Text contains invalid Unicode characters after decoding HTML "
                              "entities, check for unmatched surrogate code units")
        self.utf16 += 2 if code > 0xFFFF else 1
        self.out += chr(code).encode("utf-8")

    def entity_at(self, pos: int) -> tuple[int, int]:
        """tdlib decode_html_entity: the character `&...;` at `pos` stands for (0: none, the
        `&` is then kept as it is) and where the text goes on. Only &lt; &gt; &amp; &quot; and
        numeric references are known; `&copy;` stays `&copy;` in the text."""
        end = pos + 1
        code = 0
        if self.at(pos + 1) == 0x23:  # #
            end += 1
            if self.at(pos + 2) == 0x78:  # x, lower case only
                end += 1
                while _is_hex(self.at(end)):
                    code = code * 16 + int(chr(self.at(end)), 16)
                    end += 1
            else:
                while _is_digit(self.at(end)):
                    code = code * 10 + self.at(end) - 0x30
                    end += 1
            if code == 0 or code >= 0x10FFFF or end - pos >= 10:
                return 0, pos
        else:
            while _is_alpha(self.at(end)):
                end += 1
            name = self.raw[pos + 1 : end]
            code = {b"lt": 0x3C, b"gt": 0x3E, b"amp": 0x26, b"quot": 0x22}.get(name, 0)
            if not code:
                return 0, pos
        return code, end + 1 if self.at(end) == 0x3B else end

    def start_tag(self, begin: int) -> int:
        i = begin + 1
        while not _is_space(self.at(i)) and self.at(i) != 0x3E:
            i += 1
        if self.at(i) == 0:
            raise _ParseError(f"Unclosed start tag at byte offset {begin}")
        tag = _lower(self.raw[begin + 1 : i])
        if tag not in SUPPORTED_TAGS:
            raise _ParseError(f'Unsupported start tag "{tag}" at byte offset {begin}')
        argument, date = "", 0
        while self.at(i) != 0x3E:
            while self.at(i) != 0 and _is_space(self.at(i)):
                i += 1
            if self.at(i) == 0x3E:
                break
            name_begin = i
            while not _is_space(self.at(i)) and self.at(i) not in b"=>/\"'":
                i += 1
            name = self.raw[name_begin:i]
            if not name:
                raise _ParseError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
            while self.at(i) != 0 and _is_space(self.at(i)):
                i += 1
            if self.at(i) != 0x3D:  # =
                if self.at(i) == 0:
                    raise _ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
                if tag == "blockquote" and name == b"expandable":
                    argument = "1"
                continue
            i += 1
            while self.at(i) != 0 and _is_space(self.at(i)):
                i += 1
            if self.at(i) == 0:
                raise _ParseError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            value, i = self.attribute_value(i)
            if self.at(i) == 0:
                raise _ParseError(f"Unclosed start tag at byte offset {begin}")
            argument, date = _tag_argument(tag, name, value, argument, date)
        if tag == "span" and argument != "spoiler":
            raise _ParseError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
        self.open.append(_Open(tag, argument, date, self.utf16, len(self.out)))
        return i + 1

    def attribute_value(self, i: int) -> tuple[str, int]:
        quote = self.at(i)
        if quote not in (0x22, 0x27):  # a name token: letters, digits, periods, hyphens
            token_begin = i
            while _is_alpha(self.at(i)) or _is_digit(self.at(i)) or self.at(i) in b".-":
                i += 1
            if not _is_space(self.at(i)) and self.at(i) != 0x3E:
                raise _ParseError(f"Unexpected end of name token at byte offset {token_begin}")
            return _lower(self.raw[token_begin:i]), i
        i += 1
        value = bytearray()
        while self.at(i) != quote and self.at(i) != 0:
            if self.at(i) == 0x26:
                code, end = self.entity_at(i)
                if code:
                    value += chr(code).encode("utf-8", "surrogatepass")
                    i = end
                    continue
            value.append(self.at(i))
            i += 1
        if self.at(i) == quote:
            i += 1
        return value.decode("utf-8", "replace"), i

    def end_tag(self, begin: int) -> int:
        if not self.open:
            raise _ParseError(f"Unexpected end tag at byte offset {begin}")
        i = begin + 2
        while not _is_space(self.at(i)) and self.at(i) != 0x3E:
            i += 1
        name = _lower(self.raw[begin + 2 : i])
        while _is_space(self.at(i)) and self.at(i) != 0:
            i += 1
        if self.at(i) != 0x3E:
            raise _ParseError(f"Unclosed end tag at byte offset {begin}")
        opened = self.open[-1]
        if name and name != opened.tag:  # `</>` closes whatever is open
            raise _ParseError(f"Unmatched end tag at byte offset {begin}, "
                              f'expected "</{opened.tag}>", found "</{name}>"')
        if self.utf16 > opened.offset:
            self.close(opened, self.utf16 - opened.offset)
        self.open.pop()
        return i + 1

    def close(self, opened: _Open, length: int) -> None:
        """The entity of a closed tag (an empty one gives none)."""
        place = {"offset": opened.offset, "length": length}
        last = self.entities[-1] if self.entities else None
        same_span = last is not None and (last["offset"], last["length"]) == (opened.offset,
                                                                              length)
        if opened.tag in SIMPLE_TAGS:
            self.entities.append({"type": SIMPLE_TAGS[opened.tag], **place})
        elif opened.tag == "tg-emoji":
            if not _INT64.fullmatch(opened.argument) or not 0 < abs(int(opened.argument)) < 2**63:
                raise _ParseError("Invalid custom emoji identifier specified")
            self.entities.append({"type": "custom_emoji", **place,
                                  "custom_emoji_id": str(int(opened.argument))})
        elif opened.tag == "tg-time":
            if opened.date > 0:
                extra = {"date_time_format": opened.argument} if opened.argument else {}
                self.entities.append({"type": "date_time", **place, "unix_time": opened.date,
                                      **extra})
        elif opened.tag == "a":
            url = opened.argument or self.out[opened.start :].decode("utf-8", "replace")
            checked = get_checked_link(url)
            if checked:  # an invalid link: the text stays, without its link (no error)
                self.entities.append({"type": "text_link", **place, "url": checked})
        elif opened.tag == "pre":
            if same_span and last and last["type"] == "code" and last.get("language"):
                last["type"] = "pre"
            else:
                self.entities.append({"type": "pre", **place})
        elif opened.tag == "code":
            if same_span and last and last["type"] == "pre" and opened.argument:
                last["language"] = opened.argument
            else:
                code = {"type": "code", **place}
                if opened.argument:
                    code["language"] = opened.argument  # kept only if a <pre> wraps it
                self.entities.append(code)
        elif opened.tag == "blockquote":
            kind = "expandable_blockquote" if opened.argument else "blockquote"
            self.entities.append({"type": kind, **place})


def _tag_argument(tag: str, name: bytes, value: str, argument: str, date: int) -> tuple[str, int]:
    """What tdlib keeps of an attribute; any other attribute is ignored."""
    if tag == "a" and name == b"href":
        return value, date
    if tag == "code" and name == b"class" and value.startswith("language-"):
        return value[len("language-"):], date
    if tag == "span" and name == b"class" and value.startswith("tg-"):
        return value[len("tg-"):], date
    if tag == "tg-emoji" and name == b"emoji-id":
        return value, date
    if tag == "blockquote" and name == b"expandable":
        return "1", date
    if tag == "tg-time" and name == b"unix":
        return argument, int(value) if value.isascii() and value.isdigit() else 0
    if tag == "tg-time" and name == b"format":
        return value, date
    return argument, date


def _sorted(entities: list[Entity]) -> list[Entity]:
    """tdlib sort_entities: by offset, the longer first (stable otherwise)."""
    return sorted(entities, key=lambda e: (e["offset"], -e["length"]))


# -- tdlib fix_formatted_text ------------------------------------------------------------------

# misc.cpp clean_input_string: control characters become spaces, '\r' goes; MessageEntity.cpp
# clean_input_string_with_entities also drops U+2028-U+202E and three combining vertical lines.
_REMOVED = {0x0D, *range(0x2028, 0x202F), 0x0333, 0x033F, 0x030A}
_TO_SPACE = {*range(0x00, 0x09), 0x09, 0x0B, 0x0C, *range(0x0E, 0x20)}
# misc.cpp strip_empty_characters: what does not count as text (a message of only these is empty)
_EMPTY = {0x20, 0x0A, *range(0x200B, 0x2010), 0x202E, 0xFEFF, 0x00A0}


def fix_text(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """What tdlib does to a bot's message text before sending it: control characters cleaned,
    spaces and newlines trimmed at both ends, then refused when empty or too long; entities
    past the 100th dropped."""
    text, entities = _clean(text, entities)
    end = len(text.rstrip(" \n"))
    if end == 0:  # MessageEntity.cpp fix_formatted_text: "Text must be non-empty"
        raise RejectedHtml("Bad Request: text must be non-empty")
    text, entities = _cut(text, entities, utf16_length(text[:end]))
    first = min((e["offset"] for e in entities), default=len(text))
    start = 0
    while start < first and text[start] in " \n":  # leading blanks go only before an entity
        start += 1
    text = text[start:]
    entities = [{**e, "offset": e["offset"] - start} for e in entities]
    if all(ord(char) in _EMPTY for char in text):
        raise RejectedHtml("Bad Request: text must be non-empty")
    if len(text) > MAX_TEXT_LENGTH:  # MessageContent.cpp: "Message is too long"
        raise RejectedHtml("Bad Request: message is too long")
    return text, _first_hundred(entities)


def _clean(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Control characters to spaces, '\r' and a few invisible characters removed; entity
    offsets follow what was removed."""
    kept: list[str] = []
    new_offset = [0]  # new UTF-16 offset at each old UTF-16 offset
    for char in text:
        code = ord(char)
        units = 2 if code > 0xFFFF else 1
        if code in _REMOVED:
            new_offset += [new_offset[-1]] * units
            continue
        kept.append(" " if code in _TO_SPACE else char)
        new_offset += [new_offset[-1] + u + 1 for u in range(units)]
    moved = []
    for entity in entities:
        start = new_offset[entity["offset"]]
        end = new_offset[entity["offset"] + entity["length"]]
        if end > start:
            moved.append({**entity, "offset": start, "length": end - start})
    return "".join(kept), moved


def _cut(text: str, entities: list[Entity], end_utf16: int) -> tuple[str, list[Entity]]:
    """The text up to a UTF-16 offset (after its last visible character), entities cut there."""
    chars = units = 0
    while units < end_utf16:
        units += 2 if ord(text[chars]) > 0xFFFF else 1
        chars += 1
    kept = []
    for entity in entities:
        if entity["offset"] >= end_utf16:
            continue
        length = min(entity["length"], end_utf16 - entity["offset"])
        kept.append({**entity, "length": length})
    return text[:chars], kept


def _first_hundred(entities: list[Entity]) -> list[Entity]:
    """tdlib get_input_message_entities: the first 100 entities reach Telegram, those that are
    not splittable (links, code, quotes) first, then bold, italic and the like; custom emoji are
    not counted."""
    budget = MAX_ENTITIES
    kept: list[int] = []
    for pass_splittable in (False, True):
        for index, entity in enumerate(entities):
            if entity["type"] == "custom_emoji":
                if not pass_splittable:
                    kept.append(index)
                continue
            if (entity["type"] in SPLITTABLE) != pass_splittable:
                continue
            if budget:
                budget -= 1
                kept.append(index)
    return [entities[index] for index in sorted(kept)]


# -- links: tdlib LinkManager::check_link_impl over tdutils parse_url --------------------------


class LinkError(ValueError):
    """Why tdlib refuses a link (its own words)."""


@dataclass
class HttpUrl:
    """tdutils HttpUrl: what parse_url makes of an address."""

    https: bool
    userinfo: str
    host: str
    is_ipv6: bool
    specified_port: int
    port: int
    query: str

    def get_url(self) -> str:
        port = f":{self.specified_port}" if self.specified_port else ""
        userinfo = f"{self.userinfo}@" if self.userinfo else ""
        return f"{'https' if self.https else 'http'}://{userinfo}{self.host}{port}{self.query}"


def check_link(link: str) -> str:
    """The link as Telegram keeps it (host lowered, "/" for an empty path), or LinkError with
    tdlib's reason. http(s) and tg:// addresses (and ton://); a host without a dot is refused."""
    kind = ""
    for scheme in ("tg", "ton", "tonsite"):
        if link[: len(scheme) + 1].lower() == f"{scheme}:":
            kind, link = scheme, link[len(scheme) + 1 :]
            break
    if kind and link.startswith("//"):
        link = link[2:]
    url = parse_url(link)
    if kind:
        if link[:7].lower() == "http://" or url.https or url.userinfo or url.specified_port or (
                url.is_ipv6):
            raise LinkError("Wrong tg URL" if kind == "tg" else "Wrong ton URL")
        query = url.query[1:] if url.query[1:2] == "?" else url.query
        for char in url.host:
            if not (char.isascii() and char.isalnum()) and char not in "-_" and not (
                    kind == "tonsite" and char == "."):
                raise LinkError("Unallowed characters in URL host")
        return f"{kind}://{url.host}{query}"
    if "." not in url.host and not url.is_ipv6:
        raise LinkError("Wrong HTTP URL")
    return url.get_url()


def get_checked_link(link: str) -> str:
    """check_link, or "" for a link tdlib refuses (LinkManager::get_checked_link)."""
    try:
        return check_link(link)
    except LinkError:
        return ""


def parse_url(url: str, default_https: bool = False) -> HttpUrl:
    """tdutils parse_url: `[https?://][userinfo@]host[:port][/path?query#fragment]`."""
    cut = next((i for i, char in enumerate(url) if char in ":/?#@[]"), len(url))
    https = default_https
    rest = url
    if url[cut : cut + 3] == "://":
        scheme = _lower(url[:cut].encode())
        if scheme not in ("http", "https"):
            raise LinkError("Unsupported URL protocol")
        https, rest = scheme == "https", url[cut + 3 :]
    cut = next((i for i, char in enumerate(rest) if char in "/?#"), len(rest))
    userinfo_host_port, query = rest[:cut], rest[cut:]
    port = 0
    colon = len(userinfo_host_port) - 1
    while colon > 0 and userinfo_host_port[colon] not in ":]@":
        colon -= 1
    userinfo_host = userinfo_host_port
    if colon > 0 and userinfo_host_port[colon] == ":":
        digits = userinfo_host_port[colon + 1 :]
        while len(digits) > 1 and digits[0] == "0":
            digits = digits[1:]
        number = int(digits) if digits.isascii() and digits.isdigit() else 0
        port = number if 0 < number < 2**31 else -1
        userinfo_host = userinfo_host_port[:colon]
    if port < 0 or port > 65535:
        raise LinkError("Wrong port number specified in the URL")
    at = userinfo_host.rfind("@")
    userinfo, host = (userinfo_host[:at], userinfo_host[at + 1 :]) if at >= 0 else ("",
                                                                                   userinfo_host)
    is_ipv6 = host.startswith("[") and host.endswith("]") and len(host) > 1
    if is_ipv6:
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            raise LinkError("Wrong IPv6 address specified in the URL") from None
    if not host:
        raise LinkError("URL host is empty")
    if host == ".":
        raise LinkError("Host is invalid")
    specified_port = port
    port = port or (443 if https else 80)
    query = query.rstrip(" \t\r\n\0\v") or "/"
    encoded = "" if query[0] == "/" else "/"
    for byte in query.encode("utf-8", "surrogatepass"):
        encoded += f"%{byte:02X}" if byte <= 0x20 else chr(byte)
    query = encoded.encode("latin-1").decode("utf-8", "replace")
    host = _lower(host.encode("utf-8", "surrogatepass"))
    if is_ipv6:
        if any(char not in ":0123456789abcdef." for char in host[1:-1]):
            raise LinkError("Wrong IPv6 URL host")
    else:
        _check_url_part(host, "host", allow_colon=False)
        _check_url_part(userinfo, "userinfo", allow_colon=True)
    return HttpUrl(https, userinfo, host, is_ipv6, specified_port, port, query)


def _check_url_part(part: str, name: str, allow_colon: bool) -> None:
    """The characters RFC 3986 allows in a host or userinfo, %XX, and any non-ASCII."""
    data = part.encode("utf-8", "surrogatepass")
    i = 0
    while i < len(data):
        c = data[i]
        if (chr(c).isascii() and chr(c).isalnum()) or chr(c) in ".-_!$,~*'();&+=" or (
                allow_colon and c == 0x3A) or c >= 0x80:
            i += 1
            continue
        if c == 0x25:  # %
            if i + 2 < len(data) and _is_hex(data[i + 1]) and _is_hex(data[i + 2]):
                i += 3
                continue
            raise LinkError(f"Wrong percent-encoded symbol in URL {name}")
        raise LinkError(f"Disallowed character in URL {name}")
