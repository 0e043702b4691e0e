"""A campaign as a Markdown transcript: a story to read or share, not to re-import."""

from __future__ import annotations

from tui.core.text import clean
from tui.engine.campaign import OPENING, Campaign


def campaign_markdown(campaign: Campaign) -> str:
    lines = [f"# {clean(campaign.title)}", ""]
    if campaign.kind == "chat":
        from tui.engine.chat import chat_messages, display_text

        for msg in chat_messages(campaign):
            lines += [f"**{clean(msg.speaker)}:** {clean(display_text(campaign, msg.text))}", ""]
        return "\n".join(lines).rstrip() + "\n"
    for turn in campaign.turns:
        if turn.mode != OPENING and turn.action:
            action = clean(turn.action)
            lines += [f"> {action[1:].strip()}" if action.startswith(">") else action, ""]
        if turn.response:
            lines += [clean(turn.response), ""]
    return "\n".join(lines).rstrip() + "\n"
