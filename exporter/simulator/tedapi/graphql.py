"""The operation name of a GraphQL query text, as the simulated gateway reads it.

Why a lexer and not a pattern: the simulator decides whether a signed text is a read (a ``query``)
or something that could change the system (a ``mutation``, a ``subscription``), and must decide it
by the language's rules, not by the exporter's shortcut. The lexer follows the GraphQL spec's lexical
grammar (October 2021, §2.1): commas, whitespace, the byte-order mark and ``#`` comments are ignored;
strings (``"..."`` and ``\"\"\"...\"\"\"``) are skipped whole, so a word inside one is no keyword.

A text is a read of operation ``Name`` when, and only when:

* it is UTF-8 and every character belongs to a token;
* its first definition is ``query Name`` followed by its variables, directives or selection set
  (a name is required: the gateway answers by it);
* every further top-level definition is a ``fragment`` (a second operation is refused);
* its brackets pair up and each definition ends with its selection set's ``}``;
* no token anywhere is the word ``mutation`` or ``subscription`` (stricter than GraphQL, which
  allows a field of that name: no read query of Tesla's has one, and a judge refuses what it cannot
  be sure of).
"""

from __future__ import annotations

import re
from collections.abc import Iterator

WRITE_WORDS = frozenset({"mutation", "subscription"})
_PAIRS = {")": "(", "]": "[", "}": "{"}
_AFTER_NAME = frozenset({("punct", "("), ("punct", "@"), ("punct", "{")})  # variables, directives, selections

_TOKEN = re.compile(
    r"""
    (?P<ignored>[\ufeff\t\ \n\r,]+|\#[^\n\r]*)
    |(?P<block>\"\"\"(?:\\\"\"\"|(?!\"\"\")[\s\S])*\"\"\")
    |(?P<string>"(?:[^"\\\n\r]|\\.)*")
    |(?P<name>[_A-Za-z][_0-9A-Za-z]*)
    |(?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?(?![_A-Za-z0-9.]))
    |(?P<punct>\.\.\.|[!$&():=@\[\]{|}])
    """,
    re.VERBOSE,
)


class LexError(ValueError):
    """A character that starts no GraphQL token (or an unterminated string)."""


def tokens(text: str) -> Iterator[tuple[str, str]]:
    """The significant tokens of ``text`` as (kind, text): kind ``name``, ``string``, ``number`` or
    ``punct`` (block strings are ``string`` too)."""
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None or match.end() == pos:
            raise LexError(f"no GraphQL token at offset {pos}")
        pos = match.end()
        kind = match.lastgroup or ""
        if kind == "ignored":
            continue
        yield ("string" if kind == "block" else kind), match.group()


def _definitions(toks: list[tuple[str, str]]) -> list[list[tuple[str, str]]] | None:
    """``toks`` cut into top-level definitions (each ends where a ``}`` closes its last bracket);
    None when the brackets do not pair up or tokens trail the last definition."""
    out: list[list[tuple[str, str]]] = []
    current: list[tuple[str, str]] = []
    stack: list[str] = []
    for tok in toks:
        current.append(tok)
        kind, value = tok
        if kind != "punct":
            continue
        if value in "([{":
            stack.append(value)
        elif value in _PAIRS:
            if not stack or stack.pop() != _PAIRS[value]:
                return None
            if value == "}" and not stack:
                out.append(current)
                current = []
    return out if not stack and not current else None


def operation(text: bytes) -> str | None:
    """The name of the one ``query`` operation in ``text``, or None when the text is anything else
    (see the module docstring for the rules)."""
    try:
        toks = list(tokens(text.decode("utf-8")))
    except (UnicodeDecodeError, LexError):
        return None
    if any(kind == "name" and value in WRITE_WORDS for kind, value in toks):
        return None
    definitions = _definitions(toks)
    if not definitions:
        return None
    first = definitions[0]
    if first[0] != ("name", "query") or len(first) < 3 or first[1][0] != "name" or first[2] not in _AFTER_NAME:
        return None
    if any(d[0] != ("name", "fragment") for d in definitions[1:]):
        return None
    return first[1][1]
