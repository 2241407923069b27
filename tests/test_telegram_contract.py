"""The fake Telegram (tests/fakes/telegram/) against the Bot API's own description: the
published spec, vendored in tests/fixtures/ (Bot API 10.1, see tests/fixtures/README.md).

- every `_api_<method>` the fake implements is a Bot API method;
- every parameter the fake reads is a parameter of that method: read from the fake's source
  (any `params[...]`, `params.get(...)`, also in the helpers it hands `params` to), and
  recorded while each method runs over HTTP;
- every object it answers or delivers (User, Message, Chat, MessageEntity, the inline keyboard,
  Update, CallbackQuery, WebhookInfo, BotCommand, an error's ResponseParameters...) uses only
  fields its type defines, each of the right basic type, and has all of the type's required
  fields; an entity's type and a chat's type are among the values the documentation lists.
"""

from __future__ import annotations

import ast
import inspect
import json
import re
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from tests.fakes.telegram import server as fake_server
from tests.fakes.telegram.server import TOKEN, FakeTelegram

SPEC = Path(__file__).parent / "fixtures" / "telegram-bot-api-10.1.json"
ALEX = {"id": 4242, "type": "private", "first_name": "Alex"}
GROUP = {"id": -1001, "type": "supergroup", "title": "Runners"}
USER = {"id": 4242, "is_bot": False, "first_name": "Alex"}
pytestmark = pytest.mark.fake_telegram(ALEX, GROUP)
PRIMITIVES = {
    "Integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "Float": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "String": lambda v: isinstance(v, str),
    "Boolean": lambda v: isinstance(v, bool),
    "True": lambda v: v is True,
}
# Fields whose documentation lists every value they take (as "quoted" words).
ENUMERATED = {("MessageEntity", "type"), ("Chat", "type")}


@cache
def spec() -> dict[str, Any]:
    return json.loads(SPEC.read_text())


def implemented() -> list[str]:
    return sorted(name.removeprefix("_api_") for name in dir(FakeTelegram)
                  if name.startswith("_api_"))


def parameters_of(method: str) -> set[str]:
    return {field["name"] for field in spec()["methods"][method].get("fields", [])}


def problems(value: Any, types: list[str], path: str) -> list[str]:
    """Why `value` is none of the type expressions (empty: it is one of them)."""
    found: list[str] = []
    for expression in types:
        wrong = _problems(value, expression, path)
        if not wrong:
            return []
        found += wrong
    return found


def _problems(value: Any, expression: str, path: str) -> list[str]:
    if expression.startswith("Array of "):
        if not isinstance(value, list):
            return [f"{path}: {value!r} is not an {expression}"]
        inner = expression.removeprefix("Array of ")
        return [p for i, item in enumerate(value) for p in _problems(item, inner, f"{path}[{i}]")]
    if expression in PRIMITIVES:
        return [] if PRIMITIVES[expression](value) else [f"{path}: {value!r} is not {expression}"]
    kind = spec()["types"][expression]
    if kind.get("subtypes"):
        return problems(value, kind["subtypes"], f"{path}<{expression}>")
    if not isinstance(value, dict):
        return [f"{path}: {value!r} is not a {expression} object"]
    fields = {field["name"]: field for field in kind.get("fields", [])}
    found = [f"{path}.{name}: not a field of {expression}" for name in value if name not in fields]
    found += [f"{path}: {expression} lacks its required field {name!r}"
              for name, field in fields.items() if field["required"] and name not in value]
    for name, item in value.items():
        if name in fields:
            found += problems(item, fields[name]["types"], f"{path}.{name}")
            allowed = listed(expression, name) if (expression, name) in ENUMERATED else None
            if allowed is not None and item not in allowed:
                found.append(f"{path}.{name}: {item!r} is not among {sorted(allowed)}")
    return found


@cache
def listed(type_name: str, field_name: str) -> set[str]:
    """The values a field's documentation lists, in quotes."""
    field = next(f for f in spec()["types"][type_name]["fields"] if f["name"] == field_name)
    return set(re.findall(r'"([a-z_]+)"', field["description"]))


# -- the methods and what the fake reads of their parameters ----------------------------------


def test_the_spec_is_the_vendored_bot_api_version() -> None:
    assert spec()["version"] == "Bot API 10.1"
    assert {"methods", "types"} <= set(spec())


def test_every_method_the_fake_implements_is_a_bot_api_method() -> None:
    unknown = [method for method in implemented() if method not in spec()["methods"]]
    assert not unknown, f"not in {spec()['version']}: {unknown}"
    assert len(implemented()) >= 16 and "sendMessage" in implemented()


def test_every_parameter_the_fake_reads_in_its_source_belongs_to_the_method() -> None:
    reads = source_reads()
    assert set(reads) == set(implemented())
    assert reads["sendMessage"] >= {"chat_id", "text", "parse_mode", "reply_markup"}
    wrong = {method: sorted(keys - parameters_of(method)) for method, keys in reads.items()
             if keys - parameters_of(method)}
    assert not wrong, f"parameters the fake reads that the method does not have: {wrong}"


def source_reads() -> dict[str, set[str]]:
    """Per `_api_` method, the parameter names its code reads, following `params` into the
    fake's helpers (methods of FakeTelegram and functions of server.py)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(fake_server)))
    functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            functions.setdefault(node.name, node)
    return {name.removeprefix("_api_"): _reads(function, "params", functions, set())
            for name, function in functions.items() if name.startswith("_api_")}


def _reads(function: ast.FunctionDef | ast.AsyncFunctionDef, name: str,
           functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef],
           seen: set[str]) -> set[str]:
    seen = seen | {function.name}
    keys: set[str] = set()
    for node in ast.walk(function):
        if isinstance(node, ast.Subscript) and _is(node.value, name):
            keys.add(_literal(node.slice))
        elif isinstance(node, ast.Compare) and any(_is(c, name) for c in node.comparators):
            keys.add(_literal(node.left))
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and _is(node.func.value, name):
                keys.add(_literal(node.args[0]))
                continue
            callee = (node.func.attr if isinstance(node.func, ast.Attribute)
                      else getattr(node.func, "id", ""))
            for position, argument in enumerate(node.args):
                if _is(argument, name) and callee in functions and callee not in seen:
                    helper = functions[callee]
                    parameters = [a.arg for a in helper.args.args if a.arg != "self"]
                    keys |= _reads(helper, parameters[position], functions, seen)
    return keys


def _is(node: ast.AST, name: str) -> bool:
    return isinstance(node, ast.Name) and node.id == name


def _literal(node: ast.AST) -> str:
    assert isinstance(node, ast.Constant) and isinstance(node.value, str), (
        f"the fake reads a parameter by a name that is not a literal: {ast.unparse(node)}")
    return node.value


# -- every method over HTTP: what it reads, what it answers -------------------------------------


async def call(client: aiohttp.ClientSession, telegram: FakeTelegram, method: str,
               **params: Any) -> Any:
    """One call as a bot makes it; the answer's result, checked against the method's return
    type (an error answer is returned whole)."""
    async with client.post(f"{telegram.base_url}{TOKEN}/{method}", json=params) as answer:
        body = await answer.json()
    if not body["ok"]:
        return body
    returns = spec()["methods"][method]["returns"]
    assert not problems(body["result"], returns, method), problems(body["result"], returns,
                                                                   method)
    return body["result"]


async def test_every_method_answers_only_what_the_bot_api_defines(
    telegram: FakeTelegram,
) -> None:
    posted: list[dict[str, Any]] = []

    async def webhook(request: web.Request) -> web.Response:
        posted.append(await request.json())
        return web.Response()

    app = web.Application()
    app.router.add_post("/telegram", webhook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    telegram.reverse_proxy = f"http://127.0.0.1:{runner.addresses[0][1]}"
    keyboard = {"inline_keyboard": [[{"text": "Yes", "callback_data": "1|yes"},
                                     {"text": "No", "callback_data": "1|no"}],
                                    [{"text": "Book", "url": "https://practice.example/book"}]]}
    updates: list[dict[str, Any]] = []
    try:
        async with aiohttp.ClientSession() as client:
            await call(client, telegram, "getMe")
            await call(client, telegram, "deleteWebhook", drop_pending_updates=False)
            scope = {"type": "all_private_chats"}
            await call(client, telegram, "setMyCommands", scope=scope,
                       commands=[{"command": "start", "description": "Start"}])
            assert await call(client, telegram, "getMyCommands", scope=scope)
            await call(client, telegram, "deleteMyCommands", scope=scope)
            await call(client, telegram, "setMyDescription", description="What it does")
            await call(client, telegram, "getMyDescription")
            await call(client, telegram, "setMyShortDescription", short_description="Short")
            await call(client, telegram, "getMyShortDescription")
            sent = await call(client, telegram, "sendMessage", chat_id=ALEX["id"],
                              parse_mode="HTML", reply_markup=keyboard,
                              text='<b>Knee</b> check <a href="https://x.example">more</a> 😀 '
                                   '<pre><code class="language-python">x</code></pre>')
            assert {e["type"] for e in sent["entities"]} == {"bold", "text_link", "pre"}
            await call(client, telegram, "sendMessage", chat_id=GROUP["id"], text="Hello")
            ids = {"chat_id": ALEX["id"], "message_id": sent["message_id"]}
            edited = await call(client, telegram, "editMessageText", **ids, parse_mode="HTML",
                                text="<i>Answered</i>", reply_markup=keyboard)
            assert edited["edit_date"]
            await call(client, telegram, "editMessageReplyMarkup", **ids)

            shown = telegram.sent[0]
            await telegram.push(telegram.message_update(USER, ALEX, text="/start knee"))
            await telegram.push(telegram.message_update(
                USER, ALEX, text="yes", reply_to_message=telegram.message_json(shown)))
            press = telegram.press_update(USER, shown, "1|yes")
            await telegram.push(press)
            edit = telegram.message_update(USER, ALEX, text="no")
            await telegram.push({"edited_message": {**edit["message"], "edit_date": 1}})
            await telegram.push(telegram.message_update(USER, GROUP, text="/help@bot"))
            updates += await call(client, telegram, "getUpdates", timeout=0, limit=100)
            assert len(updates) == 5
            assert await call(client, telegram, "answerCallbackQuery",
                              callback_query_id=press["callback_query"]["id"]) is True

            await call(client, telegram, "setWebhook", url="https://bot.practice.test/telegram",
                       secret_token="right-webhook-secret-7Qx", drop_pending_updates=True)
            info = await call(client, telegram, "getWebhookInfo")
            assert info["url"] == "https://bot.practice.test/telegram"
            await telegram.push(telegram.message_update(USER, ALEX, text="over the webhook"))
            await telegram.webhook_settled()
            assert len(posted) == 1
            await call(client, telegram, "deleteWebhook")

            telegram.flood.chat_burst = 1
            await call(client, telegram, "sendMessage", chat_id=ALEX["id"], text="one")
            refused = await call(client, telegram, "sendMessage", chat_id=ALEX["id"], text="two")
    finally:
        await runner.cleanup()

    for index, update in enumerate([*updates, *posted]):
        assert not problems(update, ["Update"], f"update {index}"), problems(
            update, ["Update"], f"update {index}")
    assert refused["error_code"] == 429
    assert set(refused) == {"ok", "error_code", "description", "parameters"}
    assert not problems(refused["parameters"], ["ResponseParameters"], "parameters")

    assert set(telegram.parameters_read) == set(implemented()), "every method was called"
    wrong = {method: sorted(keys - parameters_of(method))
             for method, keys in telegram.parameters_read.items() if keys - parameters_of(method)}
    assert not wrong, f"parameters read that the method does not have: {wrong}"


def test_the_checker_itself_catches_unknown_missing_and_mistyped_fields() -> None:
    """The contract is only as good as its checker: each kind of mistake is caught."""
    good = {"message_id": 1, "date": 2, "chat": ALEX, "text": "hi"}
    assert not problems(good, ["Message"], "m")
    assert problems({**good, "colour": "red"}, ["Message"], "m")  # not a field
    assert problems({"message_id": 1, "chat": ALEX}, ["Message"], "m")  # date is required
    assert problems({**good, "date": "2"}, ["Message"], "m")  # a String, not an Integer
    assert problems({**good, "chat": {**ALEX, "type": "dm"}}, ["Message"], "m")  # no such type
    assert problems({**good, "entities": [{"type": "bold", "offset": 0}]}, ["Message"], "m")
    assert problems(True, ["Message"], "m") and not problems(True, ["Message", "Boolean"], "m")
    assert problems({"update_id": True}, ["Update"], "u"), "a Boolean is not an Integer"
