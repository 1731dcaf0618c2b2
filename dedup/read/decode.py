"""Bytes to clean text: encoding detection, binary detection and Unicode normalisation."""

from __future__ import annotations

import re
import unicodedata

from charset_normalizer import from_bytes

_BOMS = (
    (b"\x00\x00\xfe\xff", "utf-32-be"),
    (b"\xff\xfe\x00\x00", "utf-32-le"),
    (b"\xef\xbb\xbf", "utf-8"),
    (b"\xfe\xff", "utf-16-be"),
    (b"\xff\xfe", "utf-16-le"),
)
# Candidates for text that is not UTF-8: the Windows code pages and the common CJK and Cyrillic
# encodings. Leaving out rare code pages keeps short texts from decoding as, say, cp1006.
_LEGACY_ENCODINGS = [
    "cp1252",
    "cp1250",
    "cp1251",
    "cp1253",
    "cp1254",
    "cp1255",
    "cp1256",
    "cp1257",
    "cp1258",
    "koi8_r",
    "shift_jis",
    "euc_jp",
    "gb18030",
    "big5",
    "euc_kr",
]
# Line-like breaks become newlines; other C0 and C1 controls, and stray BOMs, go.
_TRANSLATE: dict[int, str | None] = {
    **{c: None for c in range(0x20) if c not in (0x09, 0x0A)},
    **{c: None for c in range(0x7F, 0xA0)},
    0x0B: "\n",
    0x0C: "\n",
    0x0D: "\n",
    0x85: "\n",
    0x2028: "\n",
    0x2029: "\n\n",
    0xFEFF: None,
}
# Any character _TRANSLATE changes: most texts have none, and a search is much quicker than
# a translation that changes nothing.
_TRANSLATED = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\ufeff]")
# Whitespace but a newline before a newline: only then has a line trailing spaces to drop
# (str.isspace and re's \s are the same test).
_TRAILING = re.compile(r"[^\S\n]\n")
_SAMPLE = 8192
_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f]")
_BINARY_CONTROLS = re.compile(r"[\x00-\x08\x0e-\x1f]")
_BINARY_BYTES = re.compile(rb"[\x00-\x08\x0e-\x1f]")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)


def printable(path: str) -> str:
    """A file path as report text: bytes that are not UTF-8 (kept by Python as surrogate
    escapes) become U+FFFD, control characters (a terminal escape in a file name) their
    ``\\xNN`` form."""
    text = path.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def normalise(text: str) -> str:
    """NFC, newlines as \\n, no control characters but \\n and \\t, no trailing spaces,
    and U+FFFD for a lone surrogate (half an emoji, which JSON may carry as an escape and no
    UTF-8 output can hold).

    Blank lines stay: the cleaning stage reads paragraphs from them.
    """
    text = _SURROGATE.sub("\ufffd", text)
    if _TRANSLATED.search(text):
        text = text.replace("\r\n", "\n").translate(_TRANSLATE)
    text = unicodedata.normalize("NFC", text)
    if not _TRAILING.search(text):
        return text.strip()
    return "\n".join(line.rstrip() for line in text.split("\n")).strip()


def decode(data: bytes, hint: str | None = None) -> str | None:
    """Bytes to text, or None for a binary file. Never raises on bad bytes.

    BOMs first (UTF-8, UTF-16, UTF-32); then UTF-16 without a BOM when NUL bytes say so; then
    UTF-8, also with a few invalid bytes (replaced by U+FFFD) among many valid multi-byte
    characters; then ``hint`` (a charset the file declares); then a legacy encoding as detected.
    A few stray NUL bytes do not make a file binary; many that are not UTF-16 do.
    """
    text = _decode_bom(data)
    if text is None and b"\x00" in data:
        encoding16 = _utf16_without_bom(data)
        if encoding16 is None and data.count(0, 0, _SAMPLE) > 0.01 * min(len(data), _SAMPLE):
            return None
        if encoding16 is not None:
            # As with a BOM: a file cut by one byte (or a stray unpaired surrogate) keeps its
            # text, the bad spot replaced.
            text = data.decode(encoding16, errors="replace")
    if text is None:
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            text = _mostly_utf8(data) or _decode_legacy(data, hint)
    sample = text[:_SAMPLE]
    if sample and len(_BINARY_CONTROLS.findall(sample)) > 0.05 * len(sample):
        return None
    return text


def looks_binary(head: bytes) -> bool:
    """Whether the first bytes of a stream are binary rather than text in an 8-bit encoding."""
    return bool(head) and len(_BINARY_BYTES.findall(head)) > 0.05 * len(head)


def has_wide_encoding(head: bytes) -> bool:
    """Whether text starting with these bytes is UTF-16 or UTF-32 (its NULs or its BOM say so)."""
    return b"\x00" in head or head.startswith((b"\xff\xfe", b"\xfe\xff"))


def decode_line(raw: bytes) -> str:
    """One line of a stream: UTF-8, else Windows-1252 (too little text per line to detect)."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace")


def declared_charset(html: bytes) -> str | None:
    """The charset an HTML page declares in a <meta> tag near its start."""
    match = _META_CHARSET.search(html[:4096])
    return match.group(1).decode("ascii") if match else None


def _decode_bom(data: bytes) -> str | None:
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, errors="replace")
    return None


def _mostly_utf8(data: bytes) -> str | None:
    """UTF-8 with a few bad bytes (a cut or spliced file), the bad bytes replaced; else None.

    Read as a legacy encoding instead, every other non-ASCII character would turn to mojibake.
    Text in an 8-bit encoding seldom forms valid UTF-8 sequences, so at least twice as many
    valid non-ASCII characters as bad spots is taken as evidence of UTF-8.
    """
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.count("\ufffd".encode())
    good = sum(1 for ch in text if ch > "\x7f") - bad - data.count("\ufffd".encode())
    return text if good > 0 and good >= 2 * bad else None


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 when NUL bytes sit in every other position, as in UTF-16 text that is mostly ASCII."""
    pairs = min(len(data), _SAMPLE) // 2
    if pairs < 2:
        return None
    even = data[0 : 2 * pairs : 2].count(0)
    odd = data[1 : 2 * pairs : 2].count(0)
    if odd > 0.3 * pairs and even < 0.05 * pairs:
        return "utf-16-le"
    if even > 0.3 * pairs and odd < 0.05 * pairs:
        return "utf-16-be"
    return None


def _decode_legacy(data: bytes, hint: str | None) -> str:
    if hint:
        try:
            return data.decode(hint)
        except (LookupError, UnicodeDecodeError):
            pass
    results = list(from_bytes(data, cp_isolation=_LEGACY_ENCODINGS))
    if results:
        best = results[0]
        # Short texts fit several code pages equally well; among the tied, prefer the most
        # common legacy one, Windows-1252.
        for result in results:
            tied = (result.chaos, result.coherence) == (best.chaos, best.coherence)
            if tied and "cp1252" in result.could_be_from_charset:
                return data.decode("cp1252", errors="replace")
        return str(best)
    return data.decode("cp1252", errors="replace")
