"""The Discord channel: slash commands, buttons and DMs on discord.py, no dialog logic.

A screening started in a server moves to the person's DMs (ephemeral replies only when their
DMs are closed), so health answers never appear in a public channel. Choice buttons are
`DynamicItem`s whose custom id carries the turn, so they keep working after a restart. Staff
notices (leads, "talk to a person") go to the practice's private staff channel.
"""

from __future__ import annotations

import asyncio
import logging
import re
import sys
from pathlib import Path
from typing import Any

import aiohttp
import discord
import yarl
from discord import app_commands
from discord.gateway import DiscordWebSocket
from discord.http import Route
from discord.utils import escape_markdown, escape_mentions

from bot.channels.staff import AllStaffPlaces
from bot.core.effects import StaffNotice, StaffNotifier
from bot.core.events import (
    Event,
    EventKind,
    Message,
    Reply,
    decode_choice,
    encode_choice,
)
from bot.core.markup import Span, render, split_text
from bot.engine.engine import Engine
from bot.engine.flow import DONE_CHOICE
from bot.engine.render import Renderer
from bot.settings import Settings
from bot.store.base import ConversationStore

CHANNEL = "discord"
FLOW = "knee"  # /kneecheck starts this flow
CONTACT = "contact"  # /contact starts this flow: name, email or phone, consent
INFO_COMMANDS = ("book", "youtube", "podcast", "about", "forget")
POST_COMMAND = "post-kneecheck"
CUSTOM_ID_PREFIX = "kc:"
START_BUTTON_ID = "kc:start"
CUSTOM_ID_LIMIT = 100
LABEL_LIMIT = 80
ROWS, PER_ROW = 5, 5  # a message holds at most 5 rows of 5 buttons
MESSAGE_LIMIT = 2000
ROOM_FOR_ANSWER = 200  # a question gains a "Your answer" line when it is answered
DISCORD_API = Route.BASE
DISCORD_GATEWAY = DiscordWebSocket.DEFAULT_GATEWAY
NO_MENTIONS = discord.AllowedMentions.none()
DELIVERY_ERRORS = (discord.DiscordException, aiohttp.ClientError, OSError, TimeoutError)

log = logging.getLogger(__name__)


def use_api(api_url: str) -> None:
    """Point discord.py's REST calls at `api_url` (empty: discord.com)."""
    Route.BASE = f"{api_url.rstrip('/')}/api/v10" if api_url else DISCORD_API


def bot_token(settings: Settings) -> str:
    """The configured bot token, or "" when none is set."""
    return settings.discord_token.get_secret_value().strip() if settings.discord_token else ""


# -- rendering: light markup -> Discord Markdown -----------------------------------------------


def markdown(text: str) -> str:
    """Discord Markdown from light markup; every span's text is escaped (markdown, mentions)."""
    return render(text, _markdown_span)


def _markdown_span(span: Span) -> str:
    text = _escape(span.text)
    if span.kind == "bold":
        return f"**{text}**"
    if span.kind == "italic":
        return f"_{text}_"
    if span.kind == "link":
        url = span.url.replace(" ", "%20").replace(")", "%29").replace(">", "%3E")
        return f"<{url}>" if span.text == span.url else f"[{text}](<{url}>)"
    return text


def _escape(text: str) -> str:
    escaped = escape_mentions(escape_markdown(text))
    return re.sub(r"(?m)^\\- ", "- ", escaped)  # keep the light markup's `- ` list lines


def markdown_chunks(text: str, limit: int = MESSAGE_LIMIT - ROOM_FOR_ANSWER) -> list[str]:
    """Split the light-markup source, then render each chunk; every chunk fits `limit`."""
    chunks: list[str] = []
    for piece in split_text(text, limit):
        rendered = markdown(piece)
        if len(rendered) > limit and len(piece) > 1:  # escaping made it grow: split finer
            chunks += markdown_chunks(piece, limit // 2)
        elif rendered.strip():
            chunks.append(rendered)
    return chunks


# -- buttons ------------------------------------------------------------------------------------


def choice_custom_id(turn: int, choice_id: str) -> str:
    """`kc:12|yes`: the turn travels with the press, so old buttons are recognised."""
    custom_id = CUSTOM_ID_PREFIX + encode_choice(turn, choice_id)
    if len(custom_id) > CUSTOM_ID_LIMIT:
        raise ValueError(f"choice id {choice_id!r} is too long for a Discord button")
    return custom_id


class ChoiceButton(discord.ui.DynamicItem[discord.ui.Button], template=r"kc:\d+\|.+"):
    """A choice button; matched by its custom id pattern, so it works after a restart."""

    def __init__(
        self,
        turn: int,
        choice_id: str,
        label: str = "",
        *,
        selected: bool = False,
        row: int | None = None,
    ) -> None:
        button = discord.ui.Button(
            label=(label or choice_id)[:LABEL_LIMIT],
            style=discord.ButtonStyle.success if selected else discord.ButtonStyle.primary,
            custom_id=choice_custom_id(turn, choice_id),
        )
        super().__init__(button, row=row)
        self.turn = turn
        self.choice_id = choice_id

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: discord.ui.Item[Any], match: re.Match[str], /
    ) -> ChoiceButton:
        decoded = decode_choice(match.string.removeprefix(CUSTOM_ID_PREFIX))
        assert decoded is not None  # the template only matches our own payloads
        return cls(decoded[0], decoded[1], getattr(item, "label", "") or "")

    async def callback(self, interaction: discord.Interaction) -> None:
        client = interaction.client
        assert isinstance(client, ScreeningBot)
        await client.press(interaction, self.turn, self.choice_id)


class StartView(discord.ui.View):
    """The public "Start the knee check" button: persistent (fixed custom id, no timeout)."""

    def __init__(self, bot: ScreeningBot) -> None:
        super().__init__(timeout=None)
        button: discord.ui.Button[StartView] = discord.ui.Button(
            label=bot.labels.start_button,
            style=discord.ButtonStyle.success,
            custom_id=START_BUTTON_ID,
        )
        button.callback = bot.start_from_button
        self.add_item(button)


def message_parts(message: Message, turn: int) -> list[tuple[str, discord.ui.View | None]]:
    """Discord messages for one engine message: text chunks, buttons on the last one."""
    chunks = markdown_chunks(message.text)
    view = _buttons(message, turn)
    if not chunks:
        return [("", view)] if view else []
    parts: list[tuple[str, discord.ui.View | None]] = [(chunk, None) for chunk in chunks]
    parts[-1] = (chunks[-1], view)
    return parts


def _buttons(message: Message, turn: int) -> discord.ui.View | None:
    """Choice buttons (picked ones green), then link buttons.

    In a pick-several question "Done" gets a row of its own under the options (and the links
    the rows after it), when that fits Discord's five rows.
    """
    if not message.choices and not message.links:
        return None
    view = discord.ui.View(timeout=None)
    choices = [choice for choice in message.choices if choice.id != DONE_CHOICE]
    finish = [choice for choice in message.choices if choice.id == DONE_CHOICE]
    done_row = -(-len(choices) // PER_ROW)  # the row after the options
    link_row = done_row + len(finish)
    fits = bool(finish) and link_row + -(-len(message.links) // PER_ROW) <= ROWS
    for choice in choices:
        view.add_item(ChoiceButton(turn, choice.id, choice.label, selected=choice.selected))
    for number, choice in enumerate(finish):
        row = done_row + number if fits else None
        view.add_item(ChoiceButton(turn, choice.id, choice.label, row=row))
    for number, link in enumerate(message.links):
        row = link_row + number // PER_ROW if fits else None
        view.add_item(discord.ui.Button(label=link.label[:LABEL_LIMIT], url=link.url, row=row))
    return view


def links_only(message: discord.Message | None) -> discord.ui.View | None:
    """The link buttons of a message (a pressed message keeps its links, loses its choices)."""
    links = [
        discord.ui.Button(label=component.label, url=component.url)
        for row in (message.components if message else ())
        for component in getattr(row, "children", ())
        if isinstance(component, discord.components.Button) and component.url
    ]
    if not links:
        return None
    view = discord.ui.View(timeout=None)
    for button in links:
        view.add_item(button)
    return view


def _custom_ids(message: discord.Message | None) -> set[str]:
    """The custom ids of the buttons on a message."""
    return {
        str(getattr(component, "custom_id", ""))
        for row in (message.components if message else ())
        for component in getattr(row, "children", (row,))
    }


def reply_parts(reply: Reply) -> list[tuple[str, discord.ui.View | None]]:
    """Every Discord message for one reply, in order."""
    return [part for message in reply.messages for part in message_parts(message, reply.turn)]


async def _defer_privately(interaction: discord.Interaction) -> None:
    # In a DM nothing is public, and an ephemeral deferral would make the first follow-up
    # (the screening itself) ephemeral too, so it would vanish when Discord reloads.
    await interaction.response.defer(ephemeral=interaction.guild_id is not None, thinking=True)


def _view_kwargs(view: discord.ui.View | None) -> dict[str, Any]:
    return {"view": view} if view is not None else {}


# -- events -------------------------------------------------------------------------------------


def event_from_dm(message: discord.Message) -> Event:
    """A DM: a /command, a typed answer, or something the bot cannot read."""
    user_id = str(message.author.id)
    text = message.content.strip()
    if not text:
        return Event(CHANNEL, user_id, EventKind.UNSUPPORTED)
    return Event.from_text(CHANNEL, user_id, text)


def required_intents() -> discord.Intents:
    """Guilds (slash commands, channels) and DM messages (typed answers); nothing privileged.

    Message content is not needed: Discord sends the content of DMs to the bot without it.
    """
    intents = discord.Intents.none()
    intents.guilds = True
    intents.dm_messages = True
    return intents


# -- staff channel ------------------------------------------------------------------------------


class DiscordStaffChannel:
    """Posts staff notices in the practice's private Discord channel; never raises."""

    def __init__(self, client: discord.Client, channel_id: int, renderer: Renderer) -> None:
        self.client = client
        self.channel_id = channel_id
        self.renderer = renderer

    async def notify(self, notice: StaffNotice) -> None:
        """Post one notice (split under Discord's limit); a failure is logged, not raised."""
        channel = self.client.get_partial_messageable(self.channel_id)
        try:
            for content in self.messages(notice):
                await channel.send(content, allowed_mentions=NO_MENTIONS)
        except DELIVERY_ERRORS as error:
            # The notice holds personal details: log only its kind and the error's type.
            status = getattr(error, "status", "")
            log.warning(
                "discord: a %s notice did not reach the staff channel: %s %s",
                notice.kind,
                type(error).__name__,
                status,
            )

    def messages(self, notice: StaffNotice) -> list[str]:
        """The notice as Discord Markdown, with who it is about when they are on Discord."""
        chunks = markdown_chunks(notice.text)
        if notice.channel == CHANNEL and notice.user_id.isdigit() and chunks:
            # A user mention lets staff open the person's profile; NO_MENTIONS keeps it silent.
            person = self.renderer.render("discord/staff_person.j2", mention=f"<@{notice.user_id}>")
            chunks[-1] = f"{chunks[-1]}\n{person}"
        return chunks


async def staff_places(
    settings: Settings, client: discord.Client, renderer: Renderer, store: ConversationStore
) -> list[StaffNotifier]:
    """Every staff place the Discord process posts to (the Telegram chat belongs here too)."""
    from bot.channels.telegram_staff import rest_only_staff_chat  # imports this module

    places: list[StaffNotifier] = []
    if settings.staff_discord_channel_id is not None:
        places.append(DiscordStaffChannel(client, settings.staff_discord_channel_id, renderer))
    telegram_staff = await rest_only_staff_chat(settings, store)
    if telegram_staff is not None:
        places.append(telegram_staff[0])
    return places


async def discord_staff_notifier(
    settings: Settings,
) -> tuple[DiscordStaffChannel, discord.Client] | None:
    """The staff channel for a process without a Discord gateway (REST login only).

    None when the token or the channel id is not set, or Discord refuses the login (logged).
    The caller closes the returned client when it stops.
    """
    token, channel_id = bot_token(settings), settings.staff_discord_channel_id
    if not token or channel_id is None:
        return None
    use_api(settings.discord_api_url)
    client = discord.Client(intents=discord.Intents.none(), allowed_mentions=NO_MENTIONS)
    try:
        await client.login(token)
    except DELIVERY_ERRORS as error:  # a rejected token is a LoginFailure, a DiscordException
        log.error(
            "discord: staff notices will not reach Discord, login failed: %s", type(error).__name__
        )
        await client.close()
        return None
    renderer = Renderer(Path(settings.templates_dir))
    return DiscordStaffChannel(client, channel_id, renderer), client


# -- the client ---------------------------------------------------------------------------------


class ScreeningBot(discord.Client):
    """Turns Discord interactions and DMs into engine events and replies into messages."""

    def __init__(self, engine: Engine, guild_id: int | None = None, api_url: str = "") -> None:
        super().__init__(
            intents=required_intents(), allowed_mentions=discord.AllowedMentions.none()
        )
        self.engine = engine
        self.guild_id = guild_id
        self.api_url = api_url.rstrip("/")
        self.labels = engine.renderer.names("discord/labels.j2", practice=engine.settings.practice)
        self.tree = app_commands.CommandTree(self)
        self.tree.on_error = self.on_command_error
        self._add_commands()

    # -- start-up -----------------------------------------------------------------------------

    async def login(self, token: str) -> None:
        """Point discord.py at the configured API first (empty: discord.com), then log in."""
        use_api(self.api_url)
        await super().login(token)

    async def close(self) -> None:
        """Disconnect, and close the staff places' own connections (a REST-only Telegram bot)."""
        if isinstance(self.engine.notifier, AllStaffPlaces):
            await self.engine.notifier.close()
        await super().close()

    async def setup_hook(self) -> None:
        """Gateway address, staff places, the start button, choice buttons, command sync."""
        DiscordWebSocket.DEFAULT_GATEWAY = await self._gateway()
        places = await staff_places(
            self.engine.settings, self, self.engine.renderer, self.engine.store
        )
        if places:
            self.engine.notifier = AllStaffPlaces(places)
        self.add_view(StartView(self))
        self.add_dynamic_items(ChoiceButton)
        commands = await self.sync_commands()
        log.info("discord: %d commands synced (%s)", len(commands), self._sync_target())

    async def _gateway(self) -> yarl.URL:
        if not self.api_url:
            return DISCORD_GATEWAY
        _, url, _ = await self.http.get_bot_gateway()
        return yarl.URL(url)

    async def sync_commands(self) -> list[app_commands.AppCommand]:
        """Sync to the configured guild (visible at once), else globally."""
        if self.guild_id is None:
            return await self.tree.sync()
        guild = discord.Object(id=self.guild_id)
        self.tree.copy_global_to(guild=guild)
        return await self.tree.sync(guild=guild)

    def _sync_target(self) -> str:
        return f"guild {self.guild_id}" if self.guild_id else "global"

    def _add_commands(self) -> None:
        labels = self.labels

        @self.tree.command(name="kneecheck", description=labels.kneecheck)
        async def kneecheck(interaction: discord.Interaction) -> None:
            await self.start_screening(interaction)

        @self.tree.command(name=CONTACT, description=labels.contact)
        async def contact(interaction: discord.Interaction) -> None:
            await self.ask_to_be_contacted(interaction)

        for name in INFO_COMMANDS:
            self.tree.add_command(
                app_commands.Command(
                    name=name, description=getattr(labels, name), callback=self._info(name)
                )
            )

        @self.tree.command(name=POST_COMMAND, description=labels.post_kneecheck)
        @app_commands.guild_only()
        @app_commands.default_permissions(manage_guild=True)
        @app_commands.checks.has_permissions(manage_guild=True)
        async def post_kneecheck(interaction: discord.Interaction) -> None:
            await self.post_start_button(interaction)

    def _info(self, name: str) -> Any:
        async def info(interaction: discord.Interaction) -> None:
            await self.run_command(interaction, name)

        return info

    # -- what people do -----------------------------------------------------------------------

    async def start_screening(self, interaction: discord.Interaction) -> None:
        """/kneecheck or the start button: the screening opens in the person's DMs."""
        await self._open_in_dm(interaction, FLOW)

    async def ask_to_be_contacted(self, interaction: discord.Interaction) -> None:
        """/contact: a name and an email or phone are typed, and typing works only in DMs."""
        await self._open_in_dm(interaction, CONTACT)

    async def _open_in_dm(self, interaction: discord.Interaction, command: str) -> None:
        await _defer_privately(interaction)
        reply = await self._handle(interaction, EventKind.COMMAND, command=command)
        if interaction.guild_id is None:
            await self._send_followups(interaction, reply)
            return
        first = await self._send_to_dm(interaction.user, reply)
        if first is not None:
            note = self._notice("discord/moved_to_dm.j2", dm_url=first.jump_url)
            await interaction.followup.send(note, ephemeral=True)
            return
        if not self._wants_typing(reply):  # else the typing note, after the question, says it
            await interaction.followup.send(self._notice("discord/dm_closed.j2"), ephemeral=True)
        await self._send_followups(interaction, reply)

    async def start_from_button(self, interaction: discord.Interaction) -> None:
        """The public start button; a failure gets an apology, not "This interaction failed"."""
        try:
            await self.start_screening(interaction)
        except Exception:
            log.exception("discord: the start button failed")
            await self._apologise(interaction)

    async def run_command(self, interaction: discord.Interaction, name: str) -> None:
        """/book, /youtube, /podcast, /about, /forget: answered privately where asked."""
        await _defer_privately(interaction)
        reply = await self._handle(interaction, EventKind.COMMAND, command=name)
        await self._send_followups(interaction, reply)

    async def press(self, interaction: discord.Interaction, turn: int, choice_id: str) -> None:
        """A choice button: acknowledge at once, then show the answer and what comes next.

        A pick in a pick-several question changes the question itself: the pressed message is
        edited in place (picked buttons green, buttons for the new turn), nothing is sent.
        """
        await interaction.response.defer()
        try:
            reply = await self._handle(interaction, EventKind.PRESS, choice_id=choice_id, turn=turn)
            if reply.edit and await self._edit_pressed(interaction, reply):
                return
            if not reply.stale and not reply.edit:
                await interaction.edit_original_response(
                    content=self._answered(interaction, reply),
                    view=links_only(interaction.message),
                )
            await self._send_followups(interaction, reply)
        except Exception:
            log.exception("discord: a button press failed")
            await self._apologise(interaction)

    async def _edit_pressed(self, interaction: discord.Interaction, reply: Reply) -> bool:
        """The pressed message becomes the reply's one message; False when Discord refuses
        (the message was deleted), so the caller sends it instead."""
        if len(reply.messages) != 1:
            return False
        parts = message_parts(reply.messages[0], reply.turn)
        if not parts:
            return False
        content, view = parts[-1]  # a long question's buttons sit on its last part
        try:
            await interaction.edit_original_response(content=content, view=view)
        except discord.HTTPException as error:
            log.info("discord: could not edit the pressed message: %s", error.status)
            return False
        return True

    async def on_interaction(self, interaction: discord.Interaction) -> None:
        """A choice button the pressed message no longer shows: pressed on buttons the person
        still saw after a pick had replaced them. discord.py drops such a press (its
        `ChoiceButton` only matches buttons on the message), so it is answered here, as an old
        button, rather than left to fail."""
        if interaction.type is not discord.InteractionType.component:
            return
        custom_id = str((interaction.data or {}).get("custom_id", ""))
        decoded = decode_choice(custom_id.removeprefix(CUSTOM_ID_PREFIX))
        if not custom_id.startswith(CUSTOM_ID_PREFIX) or decoded is None:
            return
        if custom_id in _custom_ids(interaction.message):  # the ChoiceButton takes it
            return
        await self.press(interaction, *decoded)

    async def on_message(self, message: discord.Message) -> None:
        """A DM: typed answers and commands; server messages are not read at all."""
        if message.guild is not None or message.author.bot:
            return
        try:
            reply = await self.engine.handle(event_from_dm(message))
            for content, view in reply_parts(reply):
                await message.channel.send(content, **_view_kwargs(view))
        except Exception:
            log.exception("discord: a DM could not be answered")
            await message.channel.send(self._notice("discord/error.j2"))

    async def post_start_button(self, interaction: discord.Interaction) -> None:
        """Moderators: a public message with the persistent start button."""
        await interaction.response.defer(ephemeral=True, thinking=True)
        channel = interaction.channel
        try:
            if not isinstance(channel, discord.abc.Messageable):
                raise TypeError("this channel takes no messages")
            await channel.send(self._notice("discord/start_post.j2"), view=StartView(self))
        except (discord.Forbidden, TypeError):
            await interaction.followup.send(self._notice("discord/post_failed.j2"), ephemeral=True)
            return
        await interaction.followup.send(self._notice("discord/posted.j2"), ephemeral=True)

    async def on_command_error(
        self, interaction: discord.Interaction, error: app_commands.AppCommandError
    ) -> None:
        """Refuse non-moderators politely; anything else gets an apology, never silence."""
        if isinstance(error, app_commands.CheckFailure):
            await self._say_privately(interaction, self._notice("discord/moderators_only.j2"))
            return
        log.error("discord: /%s failed: %s", getattr(interaction.command, "name", "?"), error)
        await self._apologise(interaction)

    # -- plumbing -----------------------------------------------------------------------------

    async def _handle(
        self, interaction: discord.Interaction, kind: EventKind, **fields: Any
    ) -> Reply:
        event = Event(CHANNEL, str(interaction.user.id), kind, **fields)
        return await self.engine.handle(event)

    def _answered(self, interaction: discord.Interaction, reply: Reply) -> str:
        content = interaction.message.content if interaction.message else ""
        answer = reply.extras.get("answered")
        if not answer:
            return content
        line = markdown(self._raw_notice("discord/answered.j2", answer=answer))
        return f"{content}\n\n{line}".strip()[:MESSAGE_LIMIT]

    async def _send_to_dm(
        self, user: discord.User | discord.Member, reply: Reply
    ) -> discord.Message | None:
        """The reply in the person's DMs; None when their privacy settings refuse DMs."""
        first: discord.Message | None = None
        try:
            channel = await user.create_dm()
            for content, view in reply_parts(reply):
                sent = await channel.send(content, **_view_kwargs(view))
                first = first or sent
        except discord.Forbidden:
            return None
        return first

    async def _send_followups(self, interaction: discord.Interaction, reply: Reply) -> None:
        private = interaction.guild_id is not None  # in a server: only the person sees it
        for content, view in reply_parts(reply):
            await interaction.followup.send(content, ephemeral=private, **_view_kwargs(view))
        if private and self._wants_typing(reply):
            note = self._notice("discord/typing_needs_dm.j2")
            await interaction.followup.send(note, ephemeral=True)

    def _wants_typing(self, reply: Reply) -> bool:
        """The question the person is on takes a typed answer (a name, an email, a number)."""
        flow = self.engine.flows.get(reply.flow or "")
        state = flow.states.get(reply.state) if flow else None
        return state is not None and state.input is not None and not state.final

    async def _say_privately(self, interaction: discord.Interaction, text: str) -> None:
        if interaction.response.is_done():
            await interaction.followup.send(text, ephemeral=True)
        else:
            await interaction.response.send_message(text, ephemeral=True)

    async def _apologise(self, interaction: discord.Interaction) -> None:
        try:
            await self._say_privately(interaction, self._notice("discord/error.j2"))
        except discord.HTTPException:
            log.warning("discord: could not tell the person something went wrong")

    def _raw_notice(self, template: str, **extra: Any) -> str:
        return self.engine.notice(template, channel=CHANNEL, **extra)

    def _notice(self, template: str, **extra: Any) -> str:
        return markdown(self._raw_notice(template, **extra))


# -- running ------------------------------------------------------------------------------------


async def serve(engine: Engine, token: str, settings: Settings) -> None:
    """Connect and run until the connection ends; the store is closed afterwards."""
    from bot.app import purging_daily

    bot = ScreeningBot(engine, settings.discord_guild_id, settings.discord_api_url)
    try:
        async with bot, purging_daily(engine):
            await bot.start(token)
    finally:
        await engine.store.close()


def _keep_payloads_out_of_logs() -> None:
    # discord.py's DEBUG lines carry gateway and request payloads, i.e. people's answers
    library = logging.getLogger("discord")
    if library.getEffectiveLevel() < logging.INFO:
        library.setLevel(logging.INFO)


def run(settings: Settings) -> int:
    """`python -m bot discord`: run until stopped; a clear message and exit code on failure."""
    from bot.app import build_engine

    token = bot_token(settings)
    if not token:
        print(
            "BOT_DISCORD_TOKEN is not set: put the bot token from the Discord developer "
            "portal in it (see docs/discord.md).",
            file=sys.stderr,
        )
        return 2
    _keep_payloads_out_of_logs()
    try:
        asyncio.run(serve(build_engine(settings), token, settings))
    except discord.LoginFailure:
        print(
            "Discord rejected BOT_DISCORD_TOKEN: reset the token in the developer portal "
            "(Bot page) and set it again.",
            file=sys.stderr,
        )
        return 1
    except (discord.HTTPException, discord.GatewayNotFound, aiohttp.ClientError, OSError) as error:
        print(f"Could not connect to Discord: {type(error).__name__}: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 0
    return 0
