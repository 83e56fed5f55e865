"""``modules.infotext_utils``: quoting and parsing of the "Key: value, …" infotext (host-contract §3.7)."""

from __future__ import annotations

import json
import re
from typing import Any

_PARAM = re.compile(r'\s*(\w[\w \-/]+):\s*("(?:\\.|[^\\"])+"|[^,]*)(?:,|$)')


def quote(text: Any) -> Any:
    """Values holding ``,``, ``:`` or a newline are JSON-quoted; anything else is left as it is."""
    if "," not in str(text) and "\n" not in str(text) and ":" not in str(text):
        return text
    return json.dumps(text, ensure_ascii=False)


def unquote(text: str) -> str:
    if len(text) == 0 or text[0] != '"' or text[-1] != '"':
        return text
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def parse_generation_parameters(x: str, skip_fields: list[str] | None = None) -> dict[str, Any]:
    """Prompt, "Negative prompt" and the last line's ``Key: value`` pairs (values stay strings)."""
    res: dict[str, Any] = {}
    lines = x.strip().split("\n")
    last = lines[-1] if lines else ""
    if len(_PARAM.findall(last)) < 3:
        lines.append(last)
        last = ""
    prompt, negative, in_negative = [], [], False
    for raw_line in lines[:-1]:
        line = raw_line.strip()
        if line.startswith("Negative prompt:"):
            in_negative = True
            line = line[16:].strip()
        (negative if in_negative else prompt).append(line)
    res["Prompt"] = "\n".join(prompt)
    res["Negative prompt"] = "\n".join(negative)
    for key, value in _PARAM.findall(last):
        res[key] = unquote(value)
    for key in skip_fields or []:
        res.pop(key, None)
    return res
