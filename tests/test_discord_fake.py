"""The fake Discord's own rules (tests/fakes/discord/): each one at, below and above its limit,
over HTTP or the gateway websocket as a client would meet it, with Discord's status, JSON error
code and message. The stories in test_discord.py rely on these answers being Discord's."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from tests.fakes.discord import APP_ID, GUILD_ID, PUBLIC_CHANNEL_ID, FakeDiscord
from tests.fakes.discord.faults import DM, HANG, OPEN_DM
from tests.fakes.discord.server import OBSERVED_MESSAGE_LIMIT, RateLimit

TOKEN = "fake-discord-token-rules"
ANNA = 101
DIRECT_MESSAGES = 1 << 12
BLUE, LINK = 1, 5


@pytest.fixture
async def fake() -> AsyncIterator[FakeDiscord]:
    fake = FakeDiscord(TOKEN)
    await fake.start()
    fake.add_user(ANNA, "anna")
    yield fake
    await fake.stop()


@pytest.fixture
async def http(fake: FakeDiscord) -> AsyncIterator[aiohttp.ClientSession]:
    headers = {"Authorization": f"Bot {TOKEN}"}
    async with aiohttp.ClientSession(f"{fake.url}/api/v10/", headers=headers) as session:
        yield session


Answer = tuple[int, Any, "aiohttp.typedefs.LooseHeaders"]


async def call(http: aiohttp.ClientSession, method: str, path: str, body: Any = None) -> Answer:
    async with http.request(method, path, json=body) as response:
        return response.status, await response.json(), response.headers


def field_error(answer: Answer, *path: str) -> dict[str, str]:
    """The one error Discord nests at `path` in a 400 50035 answer."""
    status, body, _ = answer
    assert (status, body["code"], body["message"]) == (400, 50035, "Invalid Form Body"), body
    errors = body["errors"]
    for key in path:
        errors = errors[key]
    (only,) = errors["_errors"]
    return only


def button(label: str = "Go", custom_id: str | None = "go", **extra: Any) -> dict[str, Any]:
    found = {"type": 2, "style": BLUE, "label": label, **extra}
    return found | ({"custom_id": custom_id} if custom_id is not None else {})


def link(url: Any = "https://example.com/", **extra: Any) -> dict[str, Any]:
    return {"type": 2, "style": LINK, "label": "Open", "url": url, **extra}


def rows(*buttons_per_row: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"type": 1, "components": row} for row in buttons_per_row]


def numbered(count: int, prefix: str = "b") -> list[dict[str, Any]]:
    return [button(f"{prefix}{n}", f"{prefix}{n}") for n in range(count)]


async def send(http: aiohttp.ClientSession, body: dict[str, Any],
               channel: int = PUBLIC_CHANNEL_ID) -> Answer:
    return await call(http, "POST", f"channels/{channel}/messages", body)


# -- messages ------------------------------------------------------------------------------------


@pytest.mark.parametrize("length", [1999, 2000])
async def test_content_up_to_2000_characters_is_sent(http, fake, length: int) -> None:
    status, message, _ = await send(http, {"content": "x" * length})
    assert status == 200 and len(message["content"]) == length
    assert len(fake.sent) == 1


async def test_content_of_2001_characters_is_refused(http, fake) -> None:
    answer = await send(http, {"content": "x" * 2001})
    assert field_error(answer, "content") == {
        "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 2000 or fewer in length."}
    assert fake.sent == {} and fake.refused[-1].status == 400


async def test_a_message_with_nothing_in_it_is_refused(http) -> None:
    status, body, _ = await send(http, {"content": ""})
    assert (status, body) == (400, {"message": "Cannot send an empty message", "code": 50006})
    status, _, _ = await send(http, {"content": "", "components": rows([button()])})
    assert status == 200, "buttons alone are a message"


@pytest.mark.parametrize("count", [4, 5])
async def test_up_to_5_action_rows_are_sent(http, count: int) -> None:
    body = {"content": "q", "components": rows(*[numbered(1, f"r{n}") for n in range(count)])}
    assert (await send(http, body))[0] == 200


async def test_a_6th_action_row_is_refused(http) -> None:
    body = {"content": "q", "components": rows(*[numbered(1, f"r{n}") for n in range(6)])}
    assert field_error(await send(http, body), "components") == {
        "code": "BASE_TYPE_MAX_LENGTH", "message": "Must be 5 or fewer in length."}


@pytest.mark.parametrize("count", [1, 5])
async def test_1_to_5_buttons_in_a_row_are_sent(http, count: int) -> None:
    assert (await send(http, {"content": "q", "components": rows(numbered(count))}))[0] == 200


@pytest.mark.parametrize("count", [0, 6])
async def test_an_empty_row_or_a_6th_button_in_a_row_is_refused(http, count: int) -> None:
    answer = await send(http, {"content": "q", "components": rows(numbered(count))})
    assert field_error(answer, "components", "0", "components") == {
        "code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 5 in length."}


@pytest.mark.parametrize("length", [79, 80])
async def test_a_label_up_to_80_characters_is_sent(http, length: int) -> None:
    body = {"content": "q", "components": rows([button("x" * length)])}
    assert (await send(http, body))[0] == 200


async def test_a_label_of_81_characters_is_refused(http) -> None:
    body = {"content": "q", "components": rows([button("ok"), button("x" * 81, "long")])}
    assert field_error(await send(http, body), "components", "0", "components", "1",
                       "label") == {"code": "BASE_TYPE_MAX_LENGTH",
                                    "message": "Must be 80 or fewer in length."}


@pytest.mark.parametrize("length", [1, 99, 100])
async def test_a_custom_id_of_1_to_100_characters_is_sent(http, length: int) -> None:
    body = {"content": "q", "components": rows([button(custom_id="c" * length)])}
    assert (await send(http, body))[0] == 200


@pytest.mark.parametrize("length", [0, 101])
async def test_an_empty_custom_id_or_one_of_101_characters_is_refused(http, length: int) -> None:
    body = {"content": "q", "components": rows([button(custom_id="c" * length)])}
    assert field_error(await send(http, body), "components", "0", "components", "0",
                       "custom_id") == {"code": "BASE_TYPE_BAD_LENGTH",
                                        "message": "Must be between 1 and 100 in length."}


async def test_a_custom_id_used_twice_in_one_message_is_refused(http) -> None:
    body = {"content": "q", "components": rows([button("A", "same")], [button("B", "same")])}
    assert field_error(await send(http, body), "components", "1", "components", "0",
                       "custom_id") == {"code": "COMPONENT_CUSTOM_ID_DUPLICATED",
                                        "message": "Component custom id was already specified"}
    other = {"content": "q", "components": rows([button("A", "same")])}
    assert (await send(http, other))[0] == 200, "unique within a message, not across messages"


@pytest.mark.parametrize("url", [
    "https://example.com/" + "x" * (511 - len("https://example.com/")),
    "https://example.com/" + "x" * (512 - len("https://example.com/")),
    "http://example.com",
    "discord://-/channels/@me",
])
async def test_a_link_button_with_a_url_of_up_to_512_characters_is_sent(http, url: str) -> None:
    status, message, _ = await send(http, {"content": "q", "components": rows([link(url)])})
    assert status == 200 and message["components"][0]["components"][0]["url"] == url


@pytest.mark.parametrize(("url", "code", "message"), [
    ("https://example.com/" + "x" * (513 - len("https://example.com/")),
     "BASE_TYPE_MAX_LENGTH", "Must be 512 or fewer in length."),
    ("", "URL_TYPE_INVALID_URL", "Not a well formed URL."),
    ("example.com/podcast", "URL_TYPE_INVALID_URL", "Not a well formed URL."),
    ("https://", "URL_TYPE_INVALID_URL", "Not a well formed URL."),
    ("https://example.com/a b", "URL_TYPE_INVALID_URL", "Not a well formed URL."),
    ("steam://connect/1.2.3.4", "URL_TYPE_INVALID_SCHEME",
     "Scheme \"steam\" is not supported. Scheme must be one of ('http', 'https', 'discord')."),
])
async def test_a_link_button_with_a_bad_url_is_refused(http, url: str, code: str,
                                                       message: str) -> None:
    answer = await send(http, {"content": "q", "components": rows([link(url)])})
    assert field_error(answer, "components", "0", "components", "0", "url") == {
        "code": code, "message": message}


async def test_a_link_button_needs_a_url_and_no_custom_id(http) -> None:
    without_url = {"type": 2, "style": LINK, "label": "Open"}
    answer = await send(http, {"content": "q", "components": rows([without_url])})
    assert field_error(answer, "components", "0", "components", "0", "url") == {
        "code": "BASE_TYPE_REQUIRED", "message": "This field is required"}
    answer = await send(http, {"content": "q", "components": rows([link(custom_id="x")])})
    assert field_error(answer, "components", "0", "components", "0", "custom_id")["code"] == (
        "BUTTON_COMPONENT_CUSTOM_ID_NOT_ALLOWED")


async def test_other_buttons_need_a_custom_id_and_no_url(http) -> None:
    answer = await send(http, {"content": "q", "components": rows([button(custom_id=None)])})
    assert field_error(answer, "components", "0", "components", "0", "custom_id")[
        "message"] == "A custom id is required"
    answer = await send(http, {"content": "q",
                               "components": rows([button(url="https://example.com/")])})
    assert field_error(answer, "components", "0", "components", "0", "url")["code"] == (
        "BUTTON_COMPONENT_URL_NOT_ALLOWED")


async def test_an_edit_follows_the_same_rules(http, fake) -> None:
    _, message, _ = await send(http, {"content": "q", "components": rows([button()])})
    path = f"channels/{PUBLIC_CHANNEL_ID}/messages/{message['id']}"

    assert (await call(http, "PATCH", path, {"content": "x" * 2000}))[0] == 200
    answer = await call(http, "PATCH", path, {"content": "x" * 2001})
    assert field_error(answer, "content")["code"] == "BASE_TYPE_MAX_LENGTH"
    assert (await call(http, "PATCH", path, {"content": "", "components": []}))[0] == 200


# -- application commands -------------------------------------------------------------------------


def command(name: str = "book", description: str = "Book a call", **extra: Any) -> dict[str, Any]:
    return {"type": 1, "name": name, "description": description, **extra}


GLOBAL = f"applications/{APP_ID}/commands"
IN_GUILD = f"applications/{APP_ID}/guilds/{GUILD_ID}/commands"


@pytest.mark.parametrize("name", [
    "k", "x" * 32, "post-kneecheck", "book_a_call", "o'clock", "café", "ดูแล", "जाँच", "1st",
])
async def test_a_command_name_that_matches_discords_pattern_is_synced(http, fake,
                                                                     name: str) -> None:
    status, created, _ = await call(http, "PUT", GLOBAL, [command(name)])
    assert status == 200 and created[0]["name"] == name
    assert fake.commands_shown(in_guild=False) == [name]


@pytest.mark.parametrize("name", ["", "x" * 33])
async def test_a_command_name_of_0_or_33_characters_is_refused(http, name: str) -> None:
    answer = await call(http, "PUT", IN_GUILD, [command("ok"), command(name)])
    assert field_error(answer, "1", "name") == {
        "code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 32 in length."}


@pytest.mark.parametrize("name", ["Book", "book a call", "book!", "kneeCheck"])
async def test_a_command_name_with_capitals_spaces_or_signs_is_refused(http, name: str) -> None:
    answer = await call(http, "PUT", GLOBAL, [command(name)])
    assert field_error(answer, "0", "name") == {
        "code": "APPLICATION_COMMAND_INVALID_NAME", "message": "Command name is invalid"}


@pytest.mark.parametrize("length", [1, 99, 100])
async def test_a_description_of_1_to_100_characters_is_synced(http, length: int) -> None:
    assert (await call(http, "PUT", IN_GUILD, [command(description="d" * length)]))[0] == 200


@pytest.mark.parametrize("length", [0, 101])
async def test_a_description_of_0_or_101_characters_is_refused(http, fake, length: int) -> None:
    await call(http, "PUT", GLOBAL, [command("help", "What I can do")])

    answer = await call(http, "PUT", GLOBAL, [command(description="d" * length)])

    assert field_error(answer, "0", "description") == {
        "code": "BASE_TYPE_BAD_LENGTH", "message": "Must be between 1 and 100 in length."}
    assert fake.commands_shown(in_guild=True) == ["help"], "a refused sync changes nothing"


@pytest.mark.parametrize("path", [GLOBAL, IN_GUILD])
async def test_up_to_100_commands_are_synced_and_101_are_refused(http, path: str) -> None:
    hundred = [command(f"c{n}") for n in range(100)]
    status, created, _ = await call(http, "PUT", path, hundred)
    assert status == 200 and len(created) == 100

    status, body, _ = await call(http, "PUT", path, [*hundred, command("c100")])

    assert (status, body) == (400, {"code": 30032, "message":
                                    "Maximum number of application commands reached (100)"})


async def test_a_guild_command_is_never_sent_from_a_dm(http, fake) -> None:
    await call(http, "PUT", IN_GUILD, [command("help", "What I can do")])

    with pytest.raises(AssertionError, match="not in the command picker in a DM"):
        await fake.slash(ANNA, "help", in_guild=False)

    assert fake.interactions == {}, "nothing was dispatched"
    await fake.slash(ANNA, "help")  # in the server it is there
    assert len(fake.interactions) == 1


# -- interactions ---------------------------------------------------------------------------------


async def an_interaction(http: aiohttp.ClientSession, fake: FakeDiscord, *,
                         in_guild: bool = True) -> tuple[str, str]:
    """A person runs /help; the callback and webhook paths of that interaction."""
    await call(http, "PUT", GLOBAL, [command("help", "What I can do")])
    interaction = await fake.slash(ANNA, "help", in_guild=in_guild)
    return (f"interactions/{interaction.id}/{interaction.token}/callback",
            f"webhooks/{APP_ID}/{interaction.token}")


async def test_the_first_response_within_the_window_is_taken(http, fake) -> None:
    callback, _ = await an_interaction(http, fake)
    fake.response_window = 0.3
    await asyncio.sleep(0.1)

    status, body, _ = await call(http, "POST", callback, {"type": 4, "data": {"content": "Hi"}})

    assert status == 200 and body["resource"]["message"]["content"] == "Hi"


async def test_a_response_after_the_window_is_an_unknown_interaction(http, fake) -> None:
    callback, webhook = await an_interaction(http, fake)
    fake.response_window = 0.05  # Discord's is 3 s
    await asyncio.sleep(0.1)

    status, body, _ = await call(http, "POST", callback, {"type": 5})

    assert (status, body) == (404, {"message": "Unknown interaction", "code": 10062})
    status, body, _ = await call(http, "POST", webhook, {"content": "late"})
    assert (status, body["code"]) == (404, 10015), "the token was invalidated"


async def test_a_second_initial_response_is_refused(http, fake) -> None:
    callback, _ = await an_interaction(http, fake)
    assert (await call(http, "POST", callback, {"type": 5}))[0] == 200

    status, body, _ = await call(http, "POST", callback, {"type": 4, "data": {"content": "x"}})

    assert (status, body) == (400, {"message": "Interaction has already been acknowledged.",
                                    "code": 40060})


async def test_an_unknown_interaction_is_refused(http, fake) -> None:
    await an_interaction(http, fake)
    status, body, _ = await call(http, "POST", "interactions/1/nope/callback", {"type": 5})
    assert (status, body["code"]) == (404, 10062)


async def test_a_response_breaking_a_message_rule_is_refused_and_leaves_it_unanswered(
    http, fake
) -> None:
    callback, _ = await an_interaction(http, fake)

    answer = await call(http, "POST", callback, {"type": 4, "data": {"content": "x" * 2001}})

    assert field_error(answer, "data", "content")["code"] == "BASE_TYPE_MAX_LENGTH"
    assert (await call(http, "POST", callback, {"type": 4, "data": {"content": "ok"}}))[0] == 200


async def test_follow_ups_need_a_response_first_and_end_with_the_token(http, fake) -> None:
    callback, webhook = await an_interaction(http, fake)
    status, body, _ = await call(http, "POST", webhook, {"content": "too early"})
    assert (status, body) == (404, {"message": "Unknown Webhook", "code": 10015})
    await call(http, "POST", callback, {"type": 4, "data": {"content": "Hi"}})
    assert (await call(http, "POST", webhook, {"content": "and more"}))[0] == 200
    fake.token_lifetime = 0.05  # Discord's is 15 minutes
    await asyncio.sleep(0.1)

    status, body, _ = await call(http, "POST", webhook, {"content": "too late"})

    assert (status, body) == (401, {"message": "Invalid Webhook Token", "code": 50027})
    status, _, _ = await call(http, "PATCH", f"{webhook}/messages/@original", {"content": "x"})
    assert status == 401


async def test_a_follow_up_breaking_a_message_rule_is_refused(http, fake) -> None:
    callback, webhook = await an_interaction(http, fake)
    await call(http, "POST", callback, {"type": 4, "data": {"content": "Hi"}})

    answer = await call(http, "POST", webhook, {"content": "q",
                                                "components": rows([link("")])})

    assert field_error(answer, "components", "0", "components", "0", "url")["code"] == (
        "URL_TYPE_INVALID_URL")


async def test_the_first_follow_up_after_thinking_fills_it_and_keeps_it_private(
    http, fake
) -> None:
    callback, webhook = await an_interaction(http, fake)
    await call(http, "POST", callback, {"type": 5, "data": {"flags": 64}})
    (loading,) = fake.sent.values()
    assert loading.ephemeral and loading.message["flags"] & 128  # "is thinking..."

    _, first, _ = await call(http, "POST", webhook, {"content": "Here", "flags": 0})
    _, second, _ = await call(http, "POST", webhook, {"content": "More", "flags": 0})

    assert first["id"] == str(loading.id) and first["flags"] == 64, "still ephemeral"
    assert second["id"] != first["id"] and not second["flags"]
    assert [s.content for s in fake.visible_to(ANNA)] == ["Here"]
    assert [s.content for s in fake.public()] == ["More"]


async def test_thinking_in_public_stays_public_whatever_the_follow_up_asks(http, fake) -> None:
    callback, webhook = await an_interaction(http, fake)
    await call(http, "POST", callback, {"type": 5})

    _, first, _ = await call(http, "POST", webhook, {"content": "Your answers", "flags": 64})

    assert first["flags"] == 0
    assert [s.content for s in fake.public()] == ["Your answers"]


# -- rate limits ----------------------------------------------------------------------------------


async def test_message_creation_is_limited_per_channel_with_discords_headers(http, fake) -> None:
    fake.rate_limits["channel-messages"] = OBSERVED_MESSAGE_LIMIT  # 5 per 5 s
    remaining = []
    for n in range(5):
        status, _, headers = await send(http, {"content": f"m{n}"})
        assert status == 200
        remaining.append(headers["X-RateLimit-Remaining"])
        assert headers["X-RateLimit-Limit"] == "5"
        assert headers["X-RateLimit-Bucket"] == "channel-messages"
        assert 0 < float(headers["X-RateLimit-Reset-After"]) <= 5.0
        assert float(headers["X-RateLimit-Reset"]) > 1_700_000_000  # epoch seconds
    assert remaining == ["4", "3", "2", "1", "0"]

    status, body, headers = await send(http, {"content": "one too many"})

    assert status == 429
    assert body["message"] == "You are being rate limited." and body["global"] is False
    assert 0 < body["retry_after"] <= 5.0 and isinstance(body["retry_after"], float)
    assert headers["X-RateLimit-Remaining"] == "0" and headers["X-RateLimit-Scope"] == "user"
    assert headers["Via"], "discord.py takes a 429 without Via for a Cloudflare ban"
    assert len(fake.sent) == 5 and fake.rate_limited == [("channel-messages",
                                                          str(PUBLIC_CHANNEL_ID))]
    assert (await send(http, {"content": "elsewhere"}, channel=PUBLIC_CHANNEL_ID + 1))[0] == 200


async def test_a_spent_bucket_opens_again_after_its_window(http, fake) -> None:
    fake.rate_limits["channel-messages"] = RateLimit(2, 0.2)
    for _ in range(2):
        assert (await send(http, {"content": "m"}))[0] == 200
    status, body, _ = await send(http, {"content": "m"})
    assert status == 429

    await asyncio.sleep(body["retry_after"] + 0.02)

    assert (await send(http, {"content": "m"}))[0] == 200


async def test_follow_ups_are_limited_per_interaction_token(http, fake) -> None:
    fake.rate_limits["webhook-messages"] = RateLimit(2, 5.0)
    callback, webhook = await an_interaction(http, fake)
    await call(http, "POST", callback, {"type": 4, "data": {"content": "Hi"}})
    for _ in range(2):
        assert (await call(http, "POST", webhook, {"content": "m"}))[0] == 200

    status, body, headers = await call(http, "POST", webhook, {"content": "m"})

    assert status == 429 and body["retry_after"] > 0
    assert headers["X-RateLimit-Bucket"] == "webhook-messages"


# -- faults ---------------------------------------------------------------------------------------


async def dm_channel(http: aiohttp.ClientSession) -> int:
    status, body, _ = await call(http, "POST", "users/@me/channels", {"recipient_id": str(ANNA)})
    assert status == 200
    return int(body["id"])


async def test_a_planned_fault_answers_instead_of_the_send_and_sends_nothing(http, fake) -> None:
    channel = await dm_channel(http)
    fake.fail(DM, 503)
    fake.fail(DM, 429, retry_after=2.5)

    unavailable = await send(http, {"content": "m"}, channel)
    limited = await send(http, {"content": "m"}, channel)
    sent = await send(http, {"content": "m"}, channel)

    assert unavailable[0] == 503 and limited[0] == 429 and sent[0] == 200
    assert limited[1]["retry_after"] == 2.5 and limited[2]["Retry-After"] == "3"
    assert limited[2]["Via"], "discord.py takes a 429 without Via for a Cloudflare ban"
    assert [s.content for s in fake.visible_to(ANNA)] == ["m"], "a fault does nothing"
    assert [target for _, target in fake.faults.attempts] == [OPEN_DM, DM, DM, DM]


async def test_a_hang_answers_504_only_after_a_while(http, fake) -> None:
    channel = await dm_channel(http)
    fake.faults.hang_for = 0.3
    fake.fail(DM, HANG)
    started = asyncio.get_running_loop().time()

    status, _, _ = await send(http, {"content": "m"}, channel)

    assert status == 504 and asyncio.get_running_loop().time() - started >= 0.3
    assert fake.visible_to(ANNA) == []


async def test_random_faults_hit_their_share_of_the_targets_only_from_the_seed(http, fake) -> None:
    channel = await dm_channel(http)
    fake.rate_limits.clear()  # only the faults answer anything but 200 here
    draws = []
    for _ in range(2):
        fake.inject_faults(0.5, seed=7, kinds=(500, 503), targets=frozenset({DM}))
        draws.append([(await send(http, {"content": "m"}, channel))[0] for _ in range(40)])
    public = [(await send(http, {"content": "m"}))[0] for _ in range(3)]

    assert draws[0] == draws[1], "the same seed, the same faults"
    assert 10 <= draws[0].count(200) <= 30 and set(draws[0]) == {200, 500, 503}
    assert public == [200, 200, 200], "the server's channels are no target"


# -- gateway --------------------------------------------------------------------------------------


class Gateway:
    """A raw gateway connection, as a client library holds it."""

    def __init__(self, socket: aiohttp.ClientWebSocketResponse) -> None:
        self.socket = socket

    async def receive(self) -> dict[str, Any]:
        message = await asyncio.wait_for(self.socket.receive(), 5)
        assert message.type is aiohttp.WSMsgType.TEXT, message
        return json.loads(message.data)

    async def send(self, op: int, data: Any) -> None:
        await self.socket.send_str(json.dumps({"op": op, "d": data}))

    async def identify(self) -> dict[str, Any]:
        await self.send(2, {"token": TOKEN, "intents": DIRECT_MESSAGES,
                            "properties": {"os": "linux", "browser": "t", "device": "t"}})
        ready = await self.receive()
        assert ready["t"] == "READY"
        return ready

    async def resume(self, session_id: str, seq: int) -> None:
        await self.send(6, {"token": TOKEN, "session_id": session_id, "seq": seq})


@pytest.fixture
async def connect(fake: FakeDiscord) -> AsyncIterator[Any]:
    session = aiohttp.ClientSession()
    opened: list[aiohttp.ClientWebSocketResponse] = []

    async def open_gateway() -> Gateway:
        socket = await session.ws_connect(fake.url.replace("http", "ws") + "/gateway")
        opened.append(socket)
        gateway = Gateway(socket)
        assert (await gateway.receive())["op"] == 10  # HELLO
        return gateway

    yield open_gateway
    for socket in opened:
        await socket.close()
    await session.close()


async def test_reconnect_then_resume_replays_the_missed_events_then_resumed(fake, connect) -> None:
    first = await connect()
    ready = await first.identify()
    await fake.dm(ANNA, "hi")
    seen = await first.receive()
    assert (seen["t"], seen["d"]["content"]) == ("MESSAGE_CREATE", "hi")

    await fake.reconnect()
    assert await first.receive() == {"op": 7, "d": None}
    await first.socket.close(code=4000)
    await fake.dm(ANNA, "while away")  # kept for the session
    second = await connect()
    await second.resume(ready["d"]["session_id"], seen["s"])

    missed, resumed = await second.receive(), await second.receive()
    assert (missed["t"], missed["d"]["content"], missed["s"]) == (
        "MESSAGE_CREATE", "while away", seen["s"] + 1)
    assert (resumed["t"], resumed["s"]) == ("RESUMED", missed["s"] + 1)
    await fake.dm(ANNA, "back")
    assert (await second.receive())["d"]["content"] == "back"
    assert len(fake.identifies) == 1 and len(fake.resumes) == 1
    assert fake.replayed == ["MESSAGE_CREATE"]


async def test_invalid_session_not_resumable_means_identify_anew(fake, connect) -> None:
    first = await connect()
    ready = await first.identify()

    await fake.invalidate_sessions(resumable=False)

    assert await first.receive() == {"op": 9, "d": False}
    second = await connect()
    await second.resume(ready["d"]["session_id"], ready["s"])
    assert await second.receive() == {"op": 9, "d": False}, "the session is gone"
    third = await connect()
    again = await third.identify()
    assert again["d"]["session_id"] != ready["d"]["session_id"]
    await fake.dm(ANNA, "hi")
    assert (await third.receive())["d"]["content"] == "hi"


async def test_invalid_session_resumable_can_be_resumed(fake, connect) -> None:
    first = await connect()
    ready = await first.identify()

    await fake.invalidate_sessions(resumable=True)

    assert await first.receive() == {"op": 9, "d": True}
    second = await connect()
    await second.resume(ready["d"]["session_id"], ready["s"])
    assert (await second.receive())["t"] == "RESUMED"


async def test_a_session_closed_with_1000_cannot_be_resumed(fake, connect) -> None:
    first = await connect()
    ready = await first.identify()
    await first.socket.close(code=1000)
    await fake.until(lambda: not fake.sessions, 5, "the session did not end")

    second = await connect()
    await second.resume(ready["d"]["session_id"], ready["s"])

    assert await second.receive() == {"op": 9, "d": False}


async def test_a_resume_from_a_sequence_never_sent_is_closed_with_4007(fake, connect) -> None:
    first = await connect()
    ready = await first.identify()
    await first.socket.close(code=4000)
    second = await connect()

    await second.resume(ready["d"]["session_id"], ready["s"] + 10)

    closed = await asyncio.wait_for(second.socket.receive(), 5)
    assert (closed.type, second.socket.close_code) == (aiohttp.WSMsgType.CLOSE, 4007)
