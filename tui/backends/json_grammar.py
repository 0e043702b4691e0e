"""A JSON schema as a GBNF grammar for llama.cpp, made compact (docs/architecture.md, "World
state"): llama-cpp-python's converter allows a space around every token of punctuation, and a
small model spends tokens on them (`"op" : "meet"`), each one paid for twice over because every
token sampled under a grammar is slower; control characters in strings are left out too.
Properties keep the schema's order, so a change's `op` comes first and the model says what
kind of change it is before the names."""

from __future__ import annotations

import json
from typing import Any

from tui.core.backend import NoJsonSchema

SPACE_RULE = 'space ::= ""'
CHAR_RULE = r'char ::= [^"\\\x00-\x1F] | "\\" (["\\/bfnrt] | "u" [0-9a-fA-F]{4})'


def schema_grammar(schema: dict[str, Any], opening: str = "") -> str:
    """The GBNF grammar that admits exactly the schema's JSON, written without spaces.
    `opening`: the answer's start, already written into the prompt: `{"<name>":[`, where
    `name` is the schema's first property, a list; the grammar admits the rest of it."""
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError as exc:  # llama-cpp-python missing: no converter
        raise NoJsonSchema(f"no JSON-schema-to-grammar converter ({exc})") from exc
    rules = []
    for line in str(json_schema_to_gbnf(json.dumps(schema))).splitlines():
        name = line.split("::=", 1)[0].strip()
        rules.append(SPACE_RULE if name == "space" else CHAR_RULE if name == "char" else line)
    if opening:
        rules = [line for line in rules if not line.startswith("root ::=")]
        rules.append(_rest_after(schema, opening, rules))
    return "\n".join(rules) + "\n"


def _rest_after(schema: dict[str, Any], opening: str, rules: list[str]) -> str:
    """The root rule of what follows `opening` (`{"<name>":[`): the list's items and its
    end, then the object's end. ValueError for any other opening."""
    name = next(iter(schema.get("properties", {})), "")
    if opening != '{"' + name + '":[':
        raise ValueError(f"no grammar continues {opening!r}")
    head = f'{name} ::= "[" space '
    rule = next((line for line in rules if line.startswith(head)), None)
    if rule is None:
        raise ValueError(f"{name!r} is not a list")
    return f'root ::= {rule[len(head):]} "}}" space'
