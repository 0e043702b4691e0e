"""A chat in play: messages, swipes, continues, impersonation, and editing any message.

Messages are numbered over the whole chat: the greeting (0 when there is one), then each
turn's player message and the character's reply, skipping parts that are empty. A reply's
swipes are the turn's `responses`; the greeting's swipes are the card's alternate greetings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from tui.core.text import clean
from tui.engine.actions import Action, Mode
from tui.engine.campaign import OPENING, Campaign, Turn
from tui.engine.chat_prompt import CHAT, card_of, char_name, chat_spec, persona_of
from tui.engine.context import NARRATOR, PLAYER, PromptSpec
from tui.engine.game import EMPTY_IS_NOTHING, Game, GenerationResult, TurnRequest, tidy_response

_ENDS_SENTENCE = re.compile(r"[.!?\u2026\"'*)\]]$")


@dataclass(frozen=True)
class ChatMessage:
    """One message of the chat as the player sees it (text before macros are applied)."""

    index: int
    turn_index: int
    part: str  # "greeting" | "user" | "reply"
    role: str  # PLAYER | NARRATOR
    speaker: str
    text: str
    swipes: int = 1  # alternatives of a greeting or reply
    chosen: int = 0


def chat_messages(campaign: Campaign) -> list[ChatMessage]:
    """Every message of the chat, oldest first, numbered as `ChatGame` edits them."""
    char = char_name(card_of(campaign))
    user = persona_of(campaign).name
    out: list[ChatMessage] = []
    for i, turn in enumerate(campaign.turns):
        if turn.action and turn.mode != OPENING:
            out.append(ChatMessage(len(out), i, "user", PLAYER, user, turn.action))
        if turn.response:
            part = "greeting" if turn.mode == OPENING else "reply"
            out.append(ChatMessage(len(out), i, part, NARRATOR, char, turn.response,
                                   len(turn.responses), turn.chosen))
    return out


def append_text(before: str, more: str) -> str:
    """A continuation joined to the reply it continues (a space if the model left none)."""
    if before and more and not more[:1].isspace() and _ENDS_SENTENCE.search(before) \
            and more[:1].isalnum():
        return f"{before} {more}"
    return before + more


class ChatGame(Game):
    """Game for character chats: messages go in as typed, and replies can be swiped."""

    def _spec(self, campaign: Campaign, pending: str | None, continuing: bool) -> PromptSpec:
        return chat_spec(campaign, pending, continuing=continuing)

    # --- requests ---------------------------------------------------------------------------

    def request_action(self, mode: Mode, raw: str) -> TurnRequest:
        """Send the player's message as typed; an empty message continues the last reply."""
        text = clean(raw).strip()
        if not text:
            return self.request_continue_reply()
        spec = chat_spec(self.campaign, text)
        return TurnRequest("action", spec, Action(Mode.SAY, raw, text), cut_actions=False)

    def request_continue(self) -> TurnRequest:
        return self.request_continue_reply()

    def request_continue_reply(self) -> TurnRequest:
        """More of the last reply; a reply when the last message is the player's own."""
        messages = chat_messages(self.campaign)
        if not messages:
            return TurnRequest("greeting", chat_spec(self.campaign, None), cut_actions=False)
        if messages[-1].role == PLAYER:
            swipe = self.request_swipe()
            if swipe is not None:
                return swipe
        spec = chat_spec(self.campaign, None, continuing=True)
        return TurnRequest("continue", spec, cut_actions=False)

    def request_retry(self) -> TurnRequest | None:
        return self.request_swipe()

    def request_swipe(self) -> TurnRequest | None:
        """Regenerate the last reply as a new swipe. None when the greeting is the last message
        (its swipes are the card's greetings: move between them with `swipe`)."""
        last = self.campaign.last_turn()
        if last is None or last.mode == OPENING:
            return None
        before = replace(self.campaign, turns=self.campaign.turns[:-1], redo_stack=[])
        spec = chat_spec(before, last.action or None)
        return TurnRequest("retry", spec, cut_actions=False)

    def request_impersonate(self, start: str = "") -> TurnRequest:
        """The model writes the player's next message, going on from `start` (what the
        player typed of it: F7 keeps it); see `impersonation_text`."""
        spec = chat_spec(self.campaign, None, impersonate=True, reply_start=start.rstrip())
        return TurnRequest("impersonate", spec, cut_actions=False)

    @staticmethod
    def impersonation_text(request: TurnRequest, result: GenerationResult) -> str:
        """An impersonation's text, the player's start included, for the player to edit and
        send (it is never committed)."""
        return tidy_response(request.spec.reply_start + result.text, continuing=False)

    # --- results ----------------------------------------------------------------------------

    def commit(self, request: TurnRequest, result: GenerationResult) -> Turn | None:
        """Put a finished reply into the chat, then save.

        A continue appends to the chosen swipe of the last reply; a retry adds a swipe.
        """
        campaign = self.campaign
        if request.kind == "impersonate":
            raise ValueError("an impersonation is not committed: send it as a message")
        text = tidy_response(result.text, continuing=request.kind == "continue")
        if not text.strip() and request.kind in EMPTY_IS_NOTHING:
            return None
        if request.kind == "continue":
            turn = campaign.turns[-1]
            turn.set_response(append_text(turn.response, text))
        elif request.kind == "retry":
            turn = campaign.turns[-1]
            turn.add_alternative(text)
        elif request.kind == "greeting":
            turn = Turn(mode=OPENING, responses=[text])
            campaign.turns.insert(0, turn)
        else:
            assert request.action is not None
            turn = campaign.begin_turn(CHAT, request.action.text)
            turn.responses.append(text)
        self._keep_world_note(request, turn, result)
        if result.report.lore_next_state is not None:
            campaign.lore_state = result.report.lore_next_state
        self.save()
        return turn

    # --- swipes and edits -------------------------------------------------------------------

    def swipe(self, delta: int) -> bool:
        """Show another swipe of the last reply (or of the greeting when it is the last
        message). False at either end: `request_swipe` makes a new one."""
        turn = self.campaign.last_turn()
        if turn is None or not turn.responses:
            return False
        target = turn.chosen + delta
        if not 0 <= target < len(turn.responses):
            return False
        turn.chosen = target
        self.save()
        return True

    def messages(self) -> list[ChatMessage]:
        return chat_messages(self.campaign)

    def edit_message(self, index: int, text: str) -> bool:
        """Replace message `index` (a reply: its shown swipe). False if there's no such one."""
        messages = self.messages()
        text = clean(text).strip()
        if not 0 <= index < len(messages) or not text:
            return False
        msg = messages[index]
        turn = self.campaign.turns[msg.turn_index]
        if msg.part == "user":
            turn.action = text
        else:
            turn.set_response(text)
        self.save()
        return True

    def edit_last(self, text: str) -> bool:
        """Edit the last message, whoever wrote it."""
        return self.edit_message(len(self.messages()) - 1, text)

    def delete_message(self, index: int) -> bool:
        """Delete message `index`; a reply goes with all its swipes."""
        messages = self.messages()
        if not 0 <= index < len(messages):
            return False
        msg = messages[index]
        turn = self.campaign.turns[msg.turn_index]
        if msg.part == "user":
            turn.action = ""
        else:
            turn.responses = []
            turn.chosen = 0
        if not turn.action and not turn.responses:
            del self.campaign.turns[msg.turn_index]
            if msg.turn_index < self.campaign.summary_upto:
                # the turns after it move up one: the summary still covers as many, not more
                self.campaign.summary_upto -= 1
        self.save(deliberate_shrink=True)
        return True
