"""Instruct templates derived by rendering real models' Jinja chat templates.

Each family's template (tests/data/chat_templates, sources in its README) is rendered on
sentinel messages; the test checks the wrappers it yields and, the strongest check, that a
conversation built by the context builder with them is the very text the Jinja template
renders for the same messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fakes import FakeBackend

from tui.engine.campaign import Campaign
from tui.engine.context import NARRATOR, PLAYER, ContextBuilder, HeaderPart, Message, PromptSpec
from tui.engine.game import choose_template
from tui.engine.jinja_template import derive_template, render_chat, template_from_jinja
from tui.engine.templates import InstructTemplate

if TYPE_CHECKING:
    from tui.backends.local import LocalBackend

DATA = Path(__file__).parent / "data" / "chat_templates"

SYSTEM = "You are the narrator of a grim text adventure."
USER_1 = "> You open the gate."
REPLY_1 = "The gate groans open onto a misty courtyard."
USER_2 = "> You look around."


@dataclass(frozen=True)
class Family:
    file: str
    bos: str
    eos: str
    expect: dict[str, object]  # InstructTemplate fields the derivation must give
    stops: tuple[str, ...]  # stop strings that must be among the derived ones
    system_in_template: bool = True  # the template itself renders a system message
    notes: tuple[str, ...] = field(default=())  # substrings of the derivation's notes


LLAMA3_HEAD = ("<|start_header_id|>system<|end_header_id|>\n\n"
               "Cutting Knowledge Date: December 2023\n")

FAMILIES = {
    "ChatML": Family("chatml_openhermes", "<s>", "<|im_end|>", {
        "system_prefix": "<|im_start|>system\n", "system_suffix": "<|im_end|>\n",
        "user_prefix": "<|im_start|>user\n", "user_suffix": "<|im_end|>\n",
        "assistant_prefix": "<|im_start|>assistant\n", "assistant_suffix": "<|im_end|>\n",
        "has_system_role": True}, ("<|im_end|>", "<|im_start|>")),
    "Llama 2": Family("llama2_chat", "<s>", "</s>", {
        "system_prefix": "<<SYS>>\n", "system_suffix": "\n<</SYS>>\n\n",
        "user_prefix": "[INST] ", "user_suffix": " [/INST]",
        "assistant_prefix": "", "assistant_suffix": " </s><s>",
        "has_system_role": False}, ("</s>", "[INST]"),
        notes=("replies in the history start without the ' '",)),
    "Llama 3": Family("llama3_2_instruct", "<|begin_of_text|>", "<|eot_id|>", {
        "system_suffix": "<|eot_id|>",
        "user_prefix": "<|start_header_id|>user<|end_header_id|>\n\n", "user_suffix": "<|eot_id|>",
        "assistant_prefix": "<|start_header_id|>assistant<|end_header_id|>\n\n",
        "assistant_suffix": "<|eot_id|>", "has_system_role": True},
        ("<|eot_id|>", "<|start_header_id|>")),
    "Mistral (Mixtral v0.1)": Family("mixtral_instruct_v0_1", "<s>", "</s>", {
        "system_prefix": "", "system_suffix": "\n\n",
        "user_prefix": "[INST] ", "user_suffix": " [/INST]",
        "assistant_prefix": "", "assistant_suffix": "</s>", "has_system_role": False},
        ("</s>", "[INST]"), system_in_template=False, notes=("no system role",)),
    "Mistral (Nemo)": Family("mistral_nemo_instruct_2407", "<s>", "</s>", {
        "system_prefix": "", "system_suffix": "\n\n",
        "user_prefix": "[INST]", "user_suffix": "[/INST]",
        "assistant_prefix": "", "assistant_suffix": "</s>", "has_system_role": False},
        ("</s>", "[INST]"), system_in_template=False,
        notes=("system text in the last user message",)),
    "Gemma 2": Family("gemma2_it", "<bos>", "<eos>", {
        "system_prefix": "", "system_suffix": "\n\n",
        "user_prefix": "<start_of_turn>user\n", "user_suffix": "<end_of_turn>\n",
        "assistant_prefix": "<start_of_turn>model\n", "assistant_suffix": "<end_of_turn>\n",
        "has_system_role": False}, ("<end_of_turn>", "<start_of_turn>"),
        system_in_template=False, notes=("System role not supported",)),
    "Gemma 3": Family("gemma3_it", "<bos>", "<eos>", {
        "system_prefix": "", "system_suffix": "\n\n",
        "user_prefix": "<start_of_turn>user\n", "user_suffix": "<end_of_turn>\n",
        "assistant_prefix": "<start_of_turn>model\n", "assistant_suffix": "<end_of_turn>\n",
        "has_system_role": False}, ("<end_of_turn>", "<start_of_turn>")),
    "Phi-3": Family("phi3_5_mini_instruct", "<s>", "<|endoftext|>", {
        "system_prefix": "<|system|>\n", "system_suffix": "<|end|>\n",
        "user_prefix": "<|user|>\n", "user_suffix": "<|end|>\n",
        "assistant_prefix": "<|assistant|>\n", "assistant_suffix": "<|end|>\n",
        "has_system_role": True}, ("<|end|>", "<|user|>", "<|endoftext|>")),
    "Zephyr": Family("zephyr_7b_beta", "<s>", "</s>", {
        "system_prefix": "<|system|>\n", "system_suffix": "</s>\n",
        "user_prefix": "<|user|>\n", "user_suffix": "</s>\n",
        "assistant_prefix": "<|assistant|>\n", "assistant_suffix": "</s>\n",
        "has_system_role": True}, ("</s>", "<|user|>")),
    "Command-R": Family("command_r_plus", "<BOS_TOKEN>", "<|END_OF_TURN_TOKEN|>", {
        "system_prefix": "<|START_OF_TURN_TOKEN|><|SYSTEM_TOKEN|>",
        "system_suffix": "<|END_OF_TURN_TOKEN|>",
        "user_prefix": "<|START_OF_TURN_TOKEN|><|USER_TOKEN|>",
        "user_suffix": "<|END_OF_TURN_TOKEN|>",
        "assistant_prefix": "<|START_OF_TURN_TOKEN|><|CHATBOT_TOKEN|>",
        "assistant_suffix": "<|END_OF_TURN_TOKEN|>", "has_system_role": True},
        ("<|END_OF_TURN_TOKEN|>", "<|START_OF_TURN_TOKEN|>")),
    "Granite": Family("granite3_3_instruct", "<|end_of_text|>", "<|end_of_text|>", {
        "system_prefix": "<|start_of_role|>system<|end_of_role|>",
        "system_suffix": "<|end_of_text|>\n",
        "user_prefix": "<|start_of_role|>user<|end_of_role|>", "user_suffix": "<|end_of_text|>\n",
        "assistant_prefix": "<|start_of_role|>assistant<|end_of_role|>",
        "assistant_suffix": "<|end_of_text|>\n", "has_system_role": True},
        ("<|end_of_text|>", "<|start_of_role|>")),
    "DeepSeek": Family("deepseek_r1_distill_qwen", "<｜begin▁of▁sentence｜>",
                       "<｜end▁of▁sentence｜>", {
        "system_prefix": "\n", "system_suffix": "",
        "user_prefix": "<｜User｜>", "user_suffix": "",
        "assistant_prefix": "<｜Assistant｜>", "assistant_suffix": "<｜end▁of▁sentence｜>",
        "has_system_role": True}, ("<｜end▁of▁sentence｜>", "<｜User｜>"),
        notes=("generation prompt leaves out '\\n'",)),
    "Qwen 2.5": Family("qwen2_5_instruct", "<|endoftext|>", "<|im_end|>", {
        "system_prefix": "<|im_start|>system\n", "system_suffix": "<|im_end|>\n",
        "user_prefix": "<|im_start|>user\n", "user_suffix": "<|im_end|>\n",
        "assistant_prefix": "<|im_start|>assistant\n", "assistant_suffix": "<|im_end|>\n",
        "has_system_role": True}, ("<|im_end|>", "<|im_start|>")),
}


def source(family: Family) -> str:
    return (DATA / f"{family.file}.jinja").read_text(encoding="utf-8")


def derived(family: Family) -> InstructTemplate:
    result = derive_template(source(family), family.bos, family.eos)
    assert result.template is not None, result.problem
    return result.template


def jinja(family: Family, messages: list[dict[str, str]]) -> str:
    """What the model's template renders, without the leading BOS (the backend's prefix
    tokens carry it)."""
    text = render_chat(source(family), messages, True, family.bos, family.eos)
    return text[len(family.bos):] if family.bos and text.startswith(family.bos) else text


def built(template: InstructTemplate, with_system: bool) -> str:
    """The prompt the context builder makes for the test conversation."""
    header = [HeaderPart("system", "system prompt", SYSTEM)] if with_system else []
    spec = PromptSpec(
        header=header,
        history=[Message(PLAYER, USER_1, "action"), Message(NARRATOR, REPLY_1, "response")],
        pending=Message(PLAYER, USER_2, "action"),
    )
    return ContextBuilder(FakeBackend().tokenize, 4096, 64, template).build(spec).text


def conversation(with_system: bool) -> list[dict[str, str]]:
    turns = [{"role": "user", "content": USER_1}, {"role": "assistant", "content": REPLY_1},
             {"role": "user", "content": USER_2}]
    return ([{"role": "system", "content": SYSTEM}] if with_system else []) + turns


@pytest.mark.parametrize("name", list(FAMILIES))
def test_derived_wrappers(name: str) -> None:
    family = FAMILIES[name]
    result = derive_template(source(family), family.bos, family.eos)
    assert result.template is not None, result.problem
    for key, value in family.expect.items():
        assert getattr(result.template, key) == value, key
    assert set(family.stops) <= set(result.template.stops)
    assert "" not in result.template.stops
    for note in family.notes:
        assert any(note in n for n in result.notes), result.notes
    if not family.notes:
        assert result.notes == ()


@pytest.mark.parametrize("name", list(FAMILIES))
def test_built_prompt_is_what_the_jinja_template_renders(name: str) -> None:
    family = FAMILIES[name]
    template = derived(family)
    # A system role of its own: the header is the template's system turn, so the whole
    # prompt matches. Without one, the header is a user turn of its own (the model's
    # template would merge it into the first player turn), so compare the turns alone.
    with_system = template.has_system_role
    want = jinja(family, conversation(with_system))
    got = built(template, with_system)
    if name == "Llama 2":  # its template puts a space before each reply; we generate
        want = want.replace(f"[/INST] {REPLY_1}", f"[/INST]{REPLY_1}")  # without it
    if name == "DeepSeek":  # the template ends its generation prompt with a newline
        want = want.removesuffix("\n")
    assert got == want


@pytest.mark.parametrize("name", [n for n, f in FAMILIES.items()
                                  if f.system_in_template and not f.expect["has_system_role"]])
def test_system_text_folds_into_the_first_turn_as_the_template_does(name: str) -> None:
    family = FAMILIES[name]
    t = derived(family)
    want = jinja(family, conversation(True)[:2])
    assert want == (t.user_prefix + t.system_prefix + SYSTEM + t.system_suffix + USER_1
                    + t.user_suffix + t.assistant_prefix)
    # and the builder's own header turn uses the same wrappers
    assert built(t, True).startswith(t.user_prefix + t.system_prefix + SYSTEM + t.system_suffix
                                     + t.user_suffix)


def test_phi3_is_not_taken_for_zephyr() -> None:
    phi = derived(FAMILIES["Phi-3"])
    assert phi.assistant_suffix == "<|end|>\n" and "</s>" not in phi.stops
    assert phi.name == "Phi-3 (model's own)"
    zephyr = derived(FAMILIES["Zephyr"])
    assert zephyr.assistant_suffix == "</s>\n" and zephyr.name == "Zephyr (model's own)"


def test_eos_token_comes_from_the_model() -> None:
    zephyr = FAMILIES["Zephyr"]
    other = derive_template(source(zephyr), "<s>", "<|endoftext|>").template
    assert other is not None and other.assistant_suffix == "<|endoftext|>\n"
    assert "<|endoftext|>" in other.stops


def test_the_llama3_system_turn_keeps_the_templates_own_preamble() -> None:
    t = derived(FAMILIES["Llama 3"])
    assert t.system_prefix.startswith(LLAMA3_HEAD) and t.system_prefix.endswith("\n\n")


BROKEN = [
    "{% for message in messages %}",  # does not parse
    "{{ raise_exception('no') }}",  # always refuses
    "{{ ''.__class__.__mro__ }}",  # sandbox violation
    "{% for i in range(10**12) %}x{% endfor %}",  # too big a range
    "{% for i in range(99999) %}{% for j in range(99999) %}xx{% endfor %}{% endfor %}",
    "{{ messages[0]['content'] }}",  # drops the other messages
    "{% for m in messages|reverse %}{{ m['content'] }}{% endfor %}",  # reorders them
    "{{ undefined_function() }}",
    "   ",
]


@pytest.mark.parametrize("text", BROKEN)
def test_templates_that_cannot_be_read_give_a_reason_not_a_crash(text: str) -> None:
    result = derive_template(text, "<s>", "</s>")
    assert result.template is None
    assert result.problem and "\n" not in result.problem
    assert template_from_jinja(text) is None


def test_unreadable_template_falls_back_to_a_named_guess() -> None:
    # Renders, but shows no messages: the markers still suggest ChatML.
    guessed = template_from_jinja("<|im_start|>")
    assert guessed is not None and guessed.name == "ChatML (guessed)"
    assert guessed.user_prefix == "<|im_start|>user\n"
    # A broken Phi-3-like template is not guessed to be Zephyr.
    assert template_from_jinja("{% if %}<|user|><|assistant|><|end|>") is None


def test_choose_template_prefers_the_models_own_then_presets_then_story() -> None:
    phi = source(FAMILIES["Phi-3"])
    c = Campaign(title="t")
    chosen = choose_template(c, phi, "<s>", "<|endoftext|>")
    assert chosen is not None and chosen.assistant_suffix == "<|end|>\n"
    c.settings.template = "ChatML"
    chosen = choose_template(c, phi, "<s>", "<|endoftext|>")
    assert chosen is not None and chosen.name == "ChatML"
    c.settings.template = "auto"
    c.settings.prompt_style = "story"
    assert choose_template(c, phi) is None
    c.settings.prompt_style = "auto"
    assert choose_template(c, "{% broken") is None
    c.settings.prompt_style = "instruct"
    chosen = choose_template(c, "{% broken")
    assert chosen is not None and chosen.name == "Alpaca"


def test_generation_blocks_and_loop_controls_render() -> None:
    text = ("{% for m in messages %}{% if m['role'] == 'system' %}{% continue %}{% endif %}"
            "<|{{ m['role'] }}|>{% generation %}{{ m['content'] }}{% endgeneration %}<|end|>"
            "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}")
    result = derive_template(text, "", "</s>")
    assert result.template is not None, result.problem
    assert result.template.user_prefix == "<|user|>"
    assert result.template.assistant_suffix == "<|end|>"
    assert not result.template.has_system_role  # the template skips system messages


@pytest.mark.parametrize("name", ["Phi-3", "Granite", "DeepSeek"])
def test_auto_template_follows_the_models_own_template(name: str) -> None:
    """Phi-3 was taken for Zephyr (turns ended with `</s>`); Granite and DeepSeek were not
    recognised at all (plain story text)."""
    family = FAMILIES[name]
    chosen = choose_template(Campaign(title="t"), source(family))
    assert chosen is not None
    # these templates write their end-of-turn markers themselves, not through eos_token
    assert chosen.assistant_suffix == family.expect["assistant_suffix"]
    assert chosen.user_prefix == family.expect["user_prefix"]
    assert family.stops[0] in chosen.stops


DOES_NOT_RENDER = {"firefunction_v2": "'functions' is undefined"}


@pytest.mark.parametrize("path", sorted(DATA.glob("*.jinja")), ids=lambda p: p.stem)
def test_every_stored_template_derives_or_says_why(path: Path) -> None:
    """Every real template either yields wrappers that rebuild its own rendering exactly
    (or with the one difference its notes name) or a one-line reason, never an error."""
    text = path.read_text(encoding="utf-8")
    result = derive_template(text, "<s>", "</s>")
    if path.stem in DOES_NOT_RENDER:
        assert result.template is None and DOES_NOT_RENDER[path.stem] in result.problem
        return
    assert result.template is not None, result.problem
    t = result.template
    assert t.stops and "" not in t.stops
    assert all("\n" not in note for note in result.notes)
    if result.notes:
        return  # the named families above check what their notes mean
    family = Family(path.stem, "<s>", "</s>", {}, ())
    assert built(t, t.has_system_role) == jinja(family, conversation(t.has_system_role))


def test_smollm2_gguf_template_builds_the_prompt_its_template_renders(
        smol_backend: LocalBackend) -> None:
    """The embedded model's own template, read from the GGUF by llama-cpp-python, through
    the game's path (make_builder), tokenized by the real model."""
    from tui.engine.game import make_builder

    info = smol_backend.info
    source_text = smol_backend._llm.metadata["tokenizer.chat_template"]
    assert info.chat_template == source_text
    result = derive_template(source_text, info.bos_token, info.eos_token)
    assert result.template is not None, result.problem
    t = result.template
    assert (t.system_prefix, t.user_prefix, t.assistant_prefix) == (
        "<|im_start|>system\n", "<|im_start|>user\n", "<|im_start|>assistant\n")
    assert t.assistant_suffix == "<|im_end|>\n" and "<|im_end|>" in t.stops
    assert t.name == "ChatML (model's own)" and result.notes == ()

    builder = make_builder(smol_backend, Campaign(title="t"))
    assert builder.layout.template == t
    spec = PromptSpec(
        header=[HeaderPart("system", "system prompt", SYSTEM)],
        history=[Message(PLAYER, USER_1, "action"), Message(NARRATOR, REPLY_1, "response")],
        pending=Message(PLAYER, USER_2, "action"),
    )
    report = builder.build(spec)
    want = render_chat(source_text, conversation(True), True, info.bos_token, info.eos_token)
    assert report.text == want
    prefix = smol_backend.prefix_tokens()
    assert report.tokens == prefix + smol_backend.tokenize(want, special=True)
