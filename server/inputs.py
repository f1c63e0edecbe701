"""What people and operators type, cleaned and checked in one place.

One text cleaner (`tidy` for chat, `one_line` for names), one number parser (`number`,
for settings and forms alike), and `Rejected`, the refusal a client event gets.
"""
from __future__ import annotations

# Characters that show nothing or reorder what follows: C0/C1 controls other than white
# space (which becomes one space), and the bidirectional overrides and isolates.
INVISIBLE = dict.fromkeys(c for c in (*range(0x20), *range(0x7F, 0xA0), *range(0x202A, 0x202F),
                                      *range(0x2066, 0x206A)) if not chr(c).isspace())


class Rejected(Exception):
    """A client event the rules refuse; it becomes an `error {code, message}` event."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message

    def to_dict(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def tidy(text: str) -> str:
    """One line, single spaces, nothing invisible: layout must not tell a person's message
    from a machine's. Text that is not valid Unicode (a lone surrogate) is refused."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise Rejected("bad_text", "The text is not valid Unicode.") from None
    return " ".join(text.translate(INVISIBLE).split())


def one_line(raw: str | None, limit: int | None = None) -> str:
    """A name as people should see it: printable, single-spaced, cut to `limit` characters."""
    name = " ".join((raw or "").split())
    name = "".join(ch for ch in name if ch.isprintable())
    return name if limit is None else name[:limit]


def number(raw: str | None, lo: float, hi: float, kind: type = float) -> float:
    """Parse a number within [lo, hi]; ValueError says what is wrong, for the caller to
    put beside the setting's or field's name."""
    text = (raw or "").strip()
    try:
        value = kind(text)
    except ValueError:
        raise ValueError(f"not {'a whole number' if kind is int else 'a number'}") from None
    if not lo <= value <= hi:
        raise ValueError(f"must be between {lo:g} and {hi:g}")
    return value
