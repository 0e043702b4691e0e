"""The adventure layer: a campaign and a pending action, as a prompt specification."""

from __future__ import annotations

from tui.engine.campaign import OPENING, Campaign
from tui.engine.context import NARRATOR, PLAYER, HeaderPart, Message, PromptSpec

NARRATOR_PROMPT = (
    "You are the narrator of an interactive text adventure. The player's actions follow "
    '">". Describe what happens next in vivid second person ("you"), in one or two short '
    "paragraphs, and move the story forward. Never write the player's actions or dialogue."
)


def turn_messages(campaign: Campaign) -> list[Message]:
    """The story as prompt messages: actions are the player's, responses the narrator's."""
    out: list[Message] = []
    number = 0
    for turn in campaign.turns:
        if turn.mode == OPENING:
            if turn.response:
                out.append(Message(NARRATOR, turn.response, "opening", "story"))
            continue
        number += 1
        if turn.action:
            out.append(Message(PLAYER, turn.action, f"turn {number} action", "action"))
        if turn.response:
            out.append(Message(NARRATOR, turn.response, f"turn {number} response", "story"))
    return out


def adventure_spec(
    campaign: Campaign,
    pending_action: str | None,
    *,
    continuing: bool = False,
) -> PromptSpec:
    """What the next turn's prompt holds.

    `pending_action` is the formatted action being answered (None for the context
    inspector or a Continue). With `continuing`, the model writes more of the last response.
    """
    header = [HeaderPart("system", "narrator instructions", NARRATOR_PROMPT, instruct_only=True)]
    if campaign.memory.strip():
        header.append(HeaderPart("memory", "memory", campaign.memory))
    if campaign.summary_enabled and campaign.summary.strip():
        header.append(HeaderPart("summary", "story so far", campaign.summary))
    history = turn_messages(campaign)
    min_start = 0
    if campaign.summary_enabled and campaign.summary.strip() and campaign.summary_upto:
        min_start = len(turn_messages(_prefix(campaign, campaign.summary_upto)))
    pending = (
        Message(PLAYER, pending_action, f"turn {campaign.player_turn_count + 1} action",
                "action")
        if pending_action
        else None
    )
    return PromptSpec(
        header=header,
        history=history,
        pending=pending,
        continue_last=continuing,
        note=campaign.authors_note,
        note_depth=campaign.note_depth,
        lorebooks=campaign.all_lorebooks,
        lore_state=campaign.lore_state,
        turn=campaign.player_turn_count + 1,
        seed=campaign.settings.seed or 0,
        min_start=min(min_start, max(0, len(history) - 1)),
        extra_stops=["\n>"],  # the model must not play the player
    )


def _prefix(campaign: Campaign, n_turns: int) -> Campaign:
    clone = Campaign(title=campaign.title, id=campaign.id)
    clone.turns = campaign.turns[:n_turns]
    return clone
