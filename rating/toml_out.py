"""Write a tariff document (as read from TOML, or converted from URDB/OWRS) back as TOML text.

Covers what tariff documents hold: strings, integers, booleans, dates, lists, inline tables, and
the arrays of tables ``[[versions]]`` / ``[[versions.charges]]`` plus the ``[versions.tou]`` table.
"""
from __future__ import annotations

import json
from datetime import date

from rating.errors import NotWritable


def _value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, date):
        return f'"{value.isoformat()}"'
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # a JSON string is a valid TOML basic string
    if isinstance(value, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + " }"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    raise NotWritable(f"cannot write {type(value).__name__} {value!r} to a tariff file")


def _key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() and key.isascii() else json.dumps(key)


def dumps(document: dict) -> str:
    lines = []
    for key, value in document.items():
        if key != "versions":
            lines.append(f"{_key(key)} = {_value(value)}")
    for version in document.get("versions", []):
        lines += ["", "[[versions]]"]
        for key, value in version.items():
            if key not in ("charges", "tou"):
                lines.append(f"{_key(key)} = {_value(value)}")
        if "tou" in version:
            lines += ["", "  [versions.tou]"]
            for key, value in version["tou"].items():
                if key in ("weekday", "weekend"):  # 12 x 24 matrices: one month a line
                    rows = ",\n    ".join(_value(row) for row in value)
                    lines.append(f"  {key} = [\n    {rows},\n  ]")
                else:
                    lines.append(f"  {_key(key)} = {_value(value)}")
        for charge in version.get("charges", []):
            lines += ["", "  [[versions.charges]]"]
            lines += [f"  {_key(key)} = {_value(value)}" for key, value in charge.items()]
    return "\n".join(lines) + "\n"
