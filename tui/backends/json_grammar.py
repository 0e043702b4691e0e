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


def schema_grammar(schema: dict[str, Any]) -> str:
    """The GBNF grammar that admits exactly the schema's JSON, written without spaces."""
    try:
        from llama_cpp.llama_grammar import json_schema_to_gbnf
    except ImportError as exc:  # llama-cpp-python missing: no converter
        raise NoJsonSchema(f"no JSON-schema-to-grammar converter ({exc})") from exc
    rules = []
    for line in str(json_schema_to_gbnf(json.dumps(schema))).splitlines():
        name = line.split("::=", 1)[0].strip()
        rules.append(SPACE_RULE if name == "space" else CHAR_RULE if name == "char" else line)
    return "\n".join(rules) + "\n"
