"""Instruct (chat) templates: how a prompt wraps system text, player turns and model turns.

The named presets are for `--template NAME` and for models without a usable chat template.
A model's own Jinja template (GGUF `tokenizer.chat_template`) is rendered and turned into an
`InstructTemplate` by `jinja_template.py`; rendering ourselves keeps every piece separately
tokenizable, so prompts stay prefix-stable and untrusted text is never parsed for special
tokens.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InstructTemplate:
    name: str
    system_prefix: str
    system_suffix: str
    user_prefix: str
    user_suffix: str
    assistant_prefix: str
    assistant_suffix: str
    stops: tuple[str, ...]
    has_system_role: bool = True

    def wrap_system(self, text: str) -> tuple[str, str]:
        """Prefix and suffix around system text; folded into a user turn when there's no role."""
        if self.has_system_role:
            return self.system_prefix, self.system_suffix
        return self.user_prefix + self.system_prefix, self.system_suffix + self.user_suffix


TEMPLATES: dict[str, InstructTemplate] = {
    t.name.lower(): t
    for t in (
        InstructTemplate(
            "Alpaca", "### Input:\n", "\n\n", "### Instruction:\n", "\n\n",
            "### Response:\n", "\n\n", ("###",),
        ),
        InstructTemplate(
            "ChatML", "<|im_start|>system\n", "<|im_end|>\n", "<|im_start|>user\n",
            "<|im_end|>\n", "<|im_start|>assistant\n", "<|im_end|>\n",
            ("<|im_end|>", "<|im_start|>"),
        ),
        InstructTemplate(
            "Metharme", "<|system|>", "", "<|user|>", "", "<|model|>", "",
            ("</s>", "<|user|>", "<|system|>"),
        ),
        InstructTemplate(
            "Vicuna 1.1", "", "\n\n", "USER: ", "\n", "ASSISTANT: ", "</s>\n",
            ("</s>", "USER:"),
        ),
        InstructTemplate(
            "Llama 2 Chat", "<<SYS>>\n", "\n<</SYS>>\n\n", "[INST] ", " [/INST]", " ", " </s>",
            ("</s>", "[INST]"), has_system_role=False,
        ),
        InstructTemplate(
            "Mistral", "", "\n\n", "[INST] ", " [/INST]", "", "</s>",
            ("</s>", "[INST]"), has_system_role=False,
        ),
        InstructTemplate(
            "Llama 3",
            "<|start_header_id|>system<|end_header_id|>\n\n", "<|eot_id|>",
            "<|start_header_id|>user<|end_header_id|>\n\n", "<|eot_id|>",
            "<|start_header_id|>assistant<|end_header_id|>\n\n", "<|eot_id|>",
            ("<|eot_id|>", "<|start_header_id|>"),
        ),
        InstructTemplate(
            "Gemma 2", "", "\n\n", "<start_of_turn>user\n", "<end_of_turn>\n",
            "<start_of_turn>model\n", "<end_of_turn>\n", ("<end_of_turn>", "<start_of_turn>"),
            has_system_role=False,
        ),
        InstructTemplate(
            "Zephyr", "<|system|>\n", "</s>\n", "<|user|>\n", "</s>\n", "<|assistant|>\n",
            "</s>\n", ("</s>", "<|user|>"),
        ),
    )
}

# Aliases players and the guide use.
_ALIASES = {
    "pygmalion": "metharme",
    "metharme / pygmalion": "metharme",
    "vicuna": "vicuna 1.1",
    "llama2": "llama 2 chat",
    "llama 2": "llama 2 chat",
    "llama3": "llama 3",
    "llama 3 instruct": "llama 3",
    "gemma": "gemma 2",
    "chatml": "chatml",
}

# Markers that suggest a preset when a Jinja chat template cannot be rendered (only then:
# a rendered template gives its own wrappers), most specific first.
_FAMILY_MARKERS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("<|im_start|>",), "chatml"),
    (("<|start_header_id|>",), "llama 3"),
    (("<start_of_turn>",), "gemma 2"),
    (("<<SYS>>",), "llama 2 chat"),
    (("[INST]",), "mistral"),
    (("<|model|>",), "metharme"),
    (("<|assistant|>", "eos_token"), "zephyr"),  # Phi-3 has <|assistant|> but ends with <|end|>
    (("### Instruction",), "alpaca"),
    (("ASSISTANT:",), "vicuna 1.1"),
)


class UnknownTemplate(ValueError):
    pass


def template_names() -> list[str]:
    return [t.name for t in TEMPLATES.values()]


def get_template(name: str) -> InstructTemplate:
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in TEMPLATES:
        raise UnknownTemplate(
            f"unknown template {name!r}; choose one of: {', '.join(template_names())}"
        )
    return TEMPLATES[key]


def guess_preset(source: str | None) -> InstructTemplate | None:
    """The preset whose markers appear in a chat template's source, if any (a fallback for
    templates that cannot be rendered)."""
    if not source:
        return None
    for markers, key in _FAMILY_MARKERS:
        if all(m in source for m in markers):
            return TEMPLATES[key]
    return None
