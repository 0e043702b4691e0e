"""What a command runs against: the game, which kind of game it is, and whether the model is
writing right now."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tui.engine.chat_game import ChatGame
from tui.engine.game import Game

if TYPE_CHECKING:
    from tui.engine.commands.effects import Effect

ADVENTURE = "adventure"
CHAT = "chat"
MODES = (ADVENTURE, CHAT)


@dataclass
class CommandContext:
    game: Game
    mode: str  # ADVENTURE | CHAT
    busy: bool = False  # a generation is running (its result is not committed yet)

    @property
    def chat(self) -> ChatGame:
        """The game as a chat (chat-only commands run only in `CHAT` mode)."""
        assert isinstance(self.game, ChatGame)
        return self.game


def mode_of(game: Game) -> str:
    return CHAT if isinstance(game, ChatGame) else ADVENTURE


Handler = Callable[[CommandContext, str], "list[Effect]"]
"""A command's engine call: the context and the argument text in, effects out."""
