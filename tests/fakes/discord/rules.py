"""What Discord refuses, as the fake enforces it: each rule with Discord's own status, JSON
error code and message, and where the rule comes from.

Sources (the discord-api-docs repository, github.com/discord/discord-api-docs, as published on
discord.com/developers/docs; read at commit c98d64b):

- MESSAGE: developers/resources/message.mdx, "Create Message" / "Edit Message" (content up to
  2000 characters; at least one of content, embeds, components, ... is required);
- COMPONENTS: developers/components/reference.mdx, "Action Row", "Button", "Custom ID" (a
  legacy message holds up to 5 action rows; a row up to 5 buttons; label max 80; custom_id
  1-100 characters, unique within the message; url max 512; link buttons need a url and no
  custom_id, the others a custom_id and no url) and developers/change-log.mdx ("Legacy
  messages ... continue to allow up to 5 action rows");
- COMMANDS: developers/interactions/application-commands.mdx, "Application Command Naming"
  (the name regex, lowercase), the command structure (description 1-100), "Registering a
  Command" (100 global CHAT_INPUT commands, as many per guild; "Guild commands are not
  available in DMs");
- ERRORS: developers/reference.mdx, "Error Messages" (the 50035 "Invalid Form Body" shape,
  nested `errors` with `_errors` lists) and developers/topics/opcodes-and-status-codes.mdx,
  "JSON Error Codes" (10008, 10015, 10062, 30032, 40060, 50006, 50027, 50035).

Where the docs name a rule but not the field-level error Discord returns, the error is the one
bots see from Discord, as reported in public issue threads (cited at each rule); the few the
fake words itself are marked "the fake's wording".
"""

from __future__ import annotations

import unicodedata
from typing import Any
from urllib.parse import urlsplit

CONTENT_LIMIT = 2000  # MESSAGE
ROWS_LIMIT = 5  # COMPONENTS: legacy (non IS_COMPONENTS_V2) messages
BUTTONS_PER_ROW = 5  # COMPONENTS: "Up to 5 contextually grouped buttons"
LABEL_LIMIT = 80  # COMPONENTS: Button Structure, label "max 80 characters"
CUSTOM_ID_LIMIT = 100  # COMPONENTS: custom_id "1-100 characters"
URL_LIMIT = 512  # COMPONENTS: Button Structure, url "max 512 characters"
URL_SCHEMES = ("http", "https", "discord")  # as Discord names them in URL_TYPE_INVALID_SCHEME
LINK = 5  # button style: Link
COMMAND_NAME_LIMIT = 32  # COMMANDS: "1-32 characters"
COMMAND_DESCRIPTION_LIMIT = 100  # COMMANDS: "Description for CHAT_INPUT commands, 1-100"
COMMANDS_LIMIT = 100  # COMMANDS: "100 global CHAT_INPUT commands", the same per guild
CHAT_INPUT = 1

Errors = dict[str, Any]  # the nested `errors` of a 50035 response; {} when nothing is wrong


def error(code: str, message: str) -> Errors:
    """One field's error list, as Discord nests it under the field's name."""
    return {"_errors": [{"code": code, "message": message}]}


def invalid_form_body(errors: Errors) -> dict[str, Any]:
    """400 body for a request whose fields break a rule (ERRORS: 50035)."""
    return {"code": 50035, "message": "Invalid Form Body", "errors": errors}


def too_long(limit: int) -> Errors:
    # e.g. "content[BASE_TYPE_MAX_LENGTH]: Must be 2000 or fewer in length." (discord.py
    # issue #10201, Rapptz/discord.py; Mephisto5558/Teufelsbot#280)
    return error("BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def bad_length(low: int, high: int) -> Errors:
    # e.g. "name[BASE_TYPE_BAD_LENGTH]: Must be between 1 and 100 in length."
    # (LandOfTheRair/LandOfTheRair#441; discord-tickets/bot#383 for 1 and 32)
    return error("BASE_TYPE_BAD_LENGTH", f"Must be between {low} and {high} in length.")


def required() -> Errors:
    # ERRORS: the "Object Error" example of developers/reference.mdx
    return error("BASE_TYPE_REQUIRED", "This field is required")


# -- messages -------------------------------------------------------------------------------------


def message_errors(body: dict[str, Any]) -> Errors:
    """Every broken rule of a message a bot sends or edits: content, rows, buttons."""
    errors: Errors = {}
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_LIMIT:
        errors["content"] = too_long(CONTENT_LIMIT)
    components = body.get("components")
    if components:
        found = components_errors(components)
        if found:
            errors["components"] = found
    return errors


def is_empty(body: dict[str, Any]) -> bool:
    """MESSAGE: "At least one of content, embeds, sticker_ids, components, files[n], poll ...
    is required" -> 400 {"code": 50006, "message": "Cannot send an empty message"}."""
    keys = ("embeds", "sticker_ids", "components", "attachments", "poll")
    return not body.get("content") and not any(body.get(key) for key in keys)


def components_errors(rows: list[dict[str, Any]]) -> Errors:
    """COMPONENTS: at most 5 action rows of 1-5 buttons each, every button valid, and no
    custom_id twice in one message."""
    if len(rows) > ROWS_LIMIT:
        # "components[BASE_TYPE_MAX_LENGTH]: Must be 5 or fewer in length."
        return too_long(ROWS_LIMIT)
    errors: Errors = {}
    seen: set[str] = set()
    for r, row in enumerate(rows):
        buttons = row.get("components") or []
        if not 1 <= len(buttons) <= BUTTONS_PER_ROW:
            errors[str(r)] = {"components": bad_length(1, BUTTONS_PER_ROW)}
            continue
        row_errors: Errors = {}
        for b, button in enumerate(buttons):
            found = button_errors(button)
            custom_id = button.get("custom_id")
            if isinstance(custom_id, str) and custom_id in seen and "custom_id" not in found:
                # "custom_id.COMPONENT_CUSTOM_ID_DUPLICATED('Component custom id was already
                # specified')" (discord/discord-api-docs#3673); COMPONENTS: "Multiple
                # components on the same message must not share the same custom_id"
                found["custom_id"] = error("COMPONENT_CUSTOM_ID_DUPLICATED",
                                           "Component custom id was already specified")
            if isinstance(custom_id, str):
                seen.add(custom_id)
            if found:
                row_errors[str(b)] = found
        if row_errors:
            errors[str(r)] = {"components": row_errors}
    return errors


def button_errors(button: dict[str, Any]) -> Errors:
    """COMPONENTS, Button: label, custom_id, url, and which of them each style must have."""
    errors: Errors = {}
    label = button.get("label")
    if isinstance(label, str) and len(label) > LABEL_LIMIT:
        errors["label"] = too_long(LABEL_LIMIT)
    custom_id, url = button.get("custom_id"), button.get("url")
    if button.get("style") == LINK:
        # "Link buttons must have a url, and cannot have a custom_id"
        if custom_id is not None:
            # the fake's wording: Discord refuses it with 50035 at this field
            errors["custom_id"] = error("BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED",
                                        "A link button cannot have a custom id")
        url_error = link_url_error(url)
        if url_error:
            errors["url"] = url_error
        return errors
    # "Non-link and non-premium buttons must have a custom_id, and cannot have a url"
    if custom_id is None:
        # "data.components.0.components.0.custom_id: A custom id is required" (as bots see it,
        # e.g. nextcord/nextcord#1254); the code name is the fake's
        errors["custom_id"] = error("BUTTON_COMPONENT_CUSTOM_ID_REQUIRED",
                                    "A custom id is required")
    elif not isinstance(custom_id, str) or not 1 <= len(custom_id) <= CUSTOM_ID_LIMIT:
        errors["custom_id"] = bad_length(1, CUSTOM_ID_LIMIT)
    if url is not None:
        # the fake's wording
        errors["url"] = error("BUTTON_COMPONENT_URL_NOT_ALLOWED",
                              "Only a link button can have a url")
    return errors


def link_url_error(url: Any) -> Errors:
    """A link button's url: present, at most 512 characters, a well formed http(s) or discord
    address. {} when it is fine."""
    if url is None:
        return required()
    if not isinstance(url, str):
        return error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
    if len(url) > URL_LIMIT:
        return too_long(URL_LIMIT)
    scheme = url.split(":", 1)[0] if ":" in url else ""
    if scheme and scheme.lower() not in URL_SCHEMES:
        # 'Scheme "x" is not supported. Scheme must be one of ('http', 'https', 'discord').'
        # (seen from Discord in 2026, e.g. for steam:// link buttons; discord-buttons#42 shows
        # the older two-scheme form)
        schemes = ", ".join(repr(s) for s in URL_SCHEMES)
        return error("URL_TYPE_INVALID_SCHEME",
                     f'Scheme "{scheme}" is not supported. Scheme must be one of ({schemes}).')
    parts = urlsplit(url)
    well_formed = bool(scheme) and not any(ch.isspace() for ch in url)
    if scheme.lower() in ("http", "https"):
        well_formed = well_formed and bool(parts.hostname)
    if not well_formed:
        # "URL_TYPE_INVALID_URL: Not a well formed URL." (the empty url included)
        return error("URL_TYPE_INVALID_URL", "Not a well formed URL.")
    return {}


# -- application commands -------------------------------------------------------------------------


def valid_command_name(name: str) -> bool:
    """COMMANDS, "Application Command Naming": CHAT_INPUT names match
    `^[-_'\\p{L}\\p{N}\\p{sc=Deva}\\p{sc=Thai}]{1,32}$` (unicode), and a letter with a lowercase
    variant must be lowercase. (The docs added `'` to the class; older copies lack it.)"""
    if not 1 <= len(name) <= COMMAND_NAME_LIMIT:
        return False
    return all(_name_character(ch) for ch in name) and name == name.lower()


def _name_character(ch: str) -> bool:
    if ch in "-_'":
        return True
    if unicodedata.category(ch)[0] in "LN":
        return True
    point = ord(ch)
    devanagari = 0x0900 <= point <= 0x097F or 0xA8E0 <= point <= 0xA8FF
    thai = 0x0E00 <= point <= 0x0E7F
    return devanagari or thai


def commands_errors(commands: list[dict[str, Any]]) -> Errors:
    """Every broken rule of a bulk overwrite, keyed by the command's index as Discord does
    ("0.description[BASE_TYPE_BAD_LENGTH]: ...")."""
    errors: Errors = {}
    for index, command in enumerate(commands):
        found: Errors = {}
        name = command.get("name")
        kind = command.get("type", CHAT_INPUT)
        if not isinstance(name, str):
            found["name"] = required()
        elif not 1 <= len(name) <= COMMAND_NAME_LIMIT:
            found["name"] = bad_length(1, COMMAND_NAME_LIMIT)
        elif kind == CHAT_INPUT and not valid_command_name(name):
            # "name[APPLICATION_COMMAND_INVALID_NAME]: Command name is invalid"
            # (Garlic-Team/gcommands#295; Rapptz/discord.py#9838)
            found["name"] = error("APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        description = command.get("description")
        if kind == CHAT_INPUT:
            if description is None:
                found["description"] = required()
            elif not isinstance(description, str) or not (
                1 <= len(description) <= COMMAND_DESCRIPTION_LIMIT
            ):
                found["description"] = bad_length(1, COMMAND_DESCRIPTION_LIMIT)
        if found:
            errors[str(index)] = found
    return errors


def too_many_commands(commands: list[dict[str, Any]]) -> dict[str, Any] | None:
    """More than 100 CHAT_INPUT commands in one place: 400 {"code": 30032, "message":
    "Maximum number of application commands reached (100)"} (COMMANDS; the response as
    measured on a bulk overwrite, chenhg5/cc-connect#504)."""
    chat_input = [c for c in commands if c.get("type", CHAT_INPUT) == CHAT_INPUT]
    if len(chat_input) <= COMMANDS_LIMIT:
        return None
    return {"code": 30032,
            "message": f"Maximum number of application commands reached ({COMMANDS_LIMIT})"}
