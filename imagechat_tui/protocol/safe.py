"""The one sanitiser for untrusted text (comments, names, image keys) before it is displayed, by the
viewer and by the server's admin commands alike (hence here, where both may import it).

Control characters are made visible instead of being passed to the terminal or dropped: C0 and DEL
as Unicode control pictures (ESC shows as ␛), C1 and bidirectional overrides as ⟨hex⟩ tags. The
result is still plain text, and the viewer's widgets show it with Textual `Content`, which never
parses markup.
"""

from __future__ import annotations

import re

_BIDI = {0x061C, 0x200E, 0x200F, *range(0x202A, 0x202F), *range(0x2066, 0x206A)}
_UNSAFE = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)
    if code == 0x7F:
        return "\u2421"
    if code in _BIDI:
        return f"⟨U+{code:04X}⟩"
    return f"⟨{code:02X}⟩"


def visible(text: str, *, multiline: bool = False) -> str:
    """`text` with every control character shown as a visible symbol. With `multiline`, line
    breaks stay line breaks and tabs become spaces; otherwise they are shown too (␤, ␉)."""
    if multiline:
        text = text.replace("\r\n", "\n").replace("\t", "    ")
        return "\n".join(_UNSAFE.sub(_picture, line) for line in text.split("\n"))
    return _UNSAFE.sub(_picture, text)
