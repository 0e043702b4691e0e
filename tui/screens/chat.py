"""The chat screen: the adventure screen's layout, with names, swipes and impersonation."""

from __future__ import annotations

from tui.engine.campaign import Turn
from tui.engine.chat import ChatGame, chat_spec, display_text, persona_of
from tui.engine.chat_prompt import card_of, char_name
from tui.engine.commands import CHAT
from tui.engine.context import PLAYER
from tui.keys import bindings_for
from tui.screens.adventure import AdventureScreen, GenerationDone
from tui.screens.guard import guarded


class ChatScreen(AdventureScreen):
    # This screen's keys in tui/keys.py. They replace the adventure's on the same keys (F6, F7
    # are swipe and impersonate here); tests/test_keys.py checks no adventure-only key is left.
    KEY_SCREEN = "chat"
    BINDINGS = bindings_for(KEY_SCREEN)
    HAS_WORLD = False

    def __init__(self, game: ChatGame, host: object) -> None:
        super().__init__(game, host)  # type: ignore[arg-type]
        self.chat = game

    @property
    def char(self) -> str:
        return char_name(card_of(self.game.campaign))

    @property
    def user(self) -> str:
        return persona_of(self.game.campaign).name

    def on_mount(self) -> None:
        # Textual also runs AdventureScreen.on_mount (handlers run for each class in the MRO).
        self.action_bar.fix_label(f"{self.user[:6]} ▸", f"Say something to {self.char}…")

    def story_blocks(self) -> list[tuple[str, str]]:
        blocks = []
        campaign = self.game.campaign
        for msg in self.chat.messages():
            text = f"{msg.speaker}: {display_text(campaign, msg.text)}"
            if msg.swipes > 1:
                text += f"  [{msg.chosen + 1}/{msg.swipes}]"
            blocks.append((text, "action" if msg.role == PLAYER else "story"))
        return blocks

    @guarded
    def action_text(self, text: str) -> str:
        return f"{self.user}: {display_text(self.game.campaign, text)}"

    def reply_text(self, turn: Turn) -> str:
        text = f"{self.char}: {display_text(self.game.campaign, turn.response)}"
        if len(turn.responses) > 1:
            text += f"  [{turn.chosen + 1}/{len(turn.responses)}]"
        return text

    def inspector_spec(self):  # type: ignore[no-untyped-def]
        return lambda campaign: chat_spec(campaign, None)

    def redraw(self) -> None:
        super().redraw()
        self.action_bar.fix_label(f"{self.user[:6]} ▸", f"Say something to {self.char}…")

    # --- chat actions (run by the engine's command table) --------------------------------------

    command_mode = CHAT

    @guarded
    def action_swipe(self, delta: int) -> None:
        self.dispatch("swipe", "next" if delta > 0 else "prev")

    @guarded
    def action_impersonate(self) -> None:
        """The model writes the player's next message, going on from what the input holds
        (a command there is not a start)."""
        self.dispatch("impersonate", self.typed_text())

    def action_world_panel(self) -> None:
        self.notify("Chats have no world state (an adventure keeps one).", markup=False)

    def finish_generation(self, message: GenerationDone) -> None:
        request = message.request
        if request.kind == "impersonate":
            self.flush_stream()
            self.pending = None
            self.story.finish_live(None)
            text = self.chat.impersonation_text(request, message.result)
            self.action_bar.put_line(text)
            self.status.set(state="your line: edit it, Enter sends")
            self.start_read_ahead()
            return
        super().finish_generation(message)
        if request.kind == "continue":
            self.redraw()  # the continuation joined the reply it continues
