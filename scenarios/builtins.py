"""Scenario fields that name shipped data as ``builtin:<name>``: the check of the name."""

from __future__ import annotations

PREFIX = "builtin:"


def check_builtin(value: str, known: tuple[str, ...], alternative: str) -> str:
    """``value`` unchanged, unless it is a ``builtin:`` name that is not among ``known``.

    Such a name would otherwise be looked up as a file of that name and reported missing.

    Args:
        value: The field's value (a path or a ``builtin:`` name).
        known: The shipped names this field accepts (with the prefix).
        alternative: What else the field takes, e.g. ``"a sessions CSV path"``.

    Raises:
        ValueError: An unknown ``builtin:`` name (pydantic adds the field's name).
    """
    if value.startswith(PREFIX) and value not in known:
        raise ValueError(f"{value!r} is not a built-in; use {' or '.join(known)} or "
                         f"{alternative}")
    return value
