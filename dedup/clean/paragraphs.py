"""Paragraph analysis: text normalisation, the generic multilingual vocabularies (widget lines,
section markers, photo credits, footer cues) and what each paragraph looks like (prose,
headline, chrome, boilerplate, marker)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

# --- character-level normalisation ---------------------------------------------------------

# Soft hyphen, zero-width space, word joiner, byte-order mark: invisible and never meaningful.
# Zero-width (non-)joiners stay: Persian and Indic scripts need them.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"), None)
# str.translate with a table reads every character in Python's slow path: looked for first.
_ANY_INVISIBLE = re.compile("[\u00ad\u200b\u2060\ufeff]")

_NON_LETTERS = re.compile(r"[\W\d_]+")
_LETTER = re.compile(r"[^\W\d_]")
_NON_WORD = re.compile(r"[\W_]+")
# Scripts written without spaces between words: count characters, not space-separated tokens.
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_TERMINAL = re.compile(r"[.!?…。！？؟।](?:[\"'”’»)\]]*)$")
_TERMINAL_PERIOD = re.compile(r"[.…。](?:[\"'”’»)\]]*)$")
_DANGLING = re.compile(r"[,;:|/\\»›>\-–—]$")


def split_paragraphs(text: str) -> list[str]:
    """Unicode NFC, whitespace collapsed; each non-empty line is one paragraph."""
    text = _visible(unicodedata.normalize("NFC", text))
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            out.append(line)
    return out


def _visible(text: str) -> str:
    return text.translate(_INVISIBLE) if _ANY_INVISIBLE.search(text) else text


def _normalise_line(line: str) -> str:
    return " ".join(_visible(unicodedata.normalize("NFC", line)).split())


# Below U+0100 a word character is what str.isalnum says (as for \w in re): a text of such
# characters, as most Latin-script text is, has its key made by a byte table, not a regex.
_LATIN1_WORDS = bytes(b if chr(b).isalnum() else 0x20 for b in range(256))


def _key(low: str) -> str:
    """The words of a case-folded text, one space apart: ``_NON_WORD.sub(" ", low).strip()``."""
    try:
        latin1 = low.encode("latin-1")
    except UnicodeEncodeError:
        return _NON_WORD.sub(" ", low).strip()
    return " ".join(latin1.translate(_LATIN1_WORDS).decode("latin-1").split())


def _n_words(text: str) -> int:
    unspaced = len(_UNSPACED.findall(text))
    return len(text.split()) + unspaced // 2


def _n_letters(text: str) -> int:
    return len(_NON_LETTERS.sub("", text))


def _has_letters(text: str, n: int) -> bool:
    """``_n_letters(text) >= n``, most often from the first characters alone."""
    return _n_letters(text[: 2 * n]) >= n or _n_letters(text) >= n


# --- vocabularies (generic, multilingual) --------------------------------------------------


def _phrase_alternation(phrases: Iterable[str]) -> str:
    keys = {_word_string(p) for p in phrases}
    return "|".join(re.escape(k) for k in sorted(keys, key=len, reverse=True) if k)


def _word_string(text: str) -> str:
    """Lower-cased letters-only words, one space apart: the form chrome phrases are matched in."""
    return _NON_LETTERS.sub(" ", text.casefold()).strip()


# Lines made only of these are page widgets (share, like, copy, print, menus), in any order.
_CHROME_PHRASES = (
    # en
    "share", "shares", "share this", "share this article", "share on facebook",
    "share on twitter", "share on x", "tweet", "like", "likes", "liked", "unlike",
    "comment", "comments", "leave a comment", "print", "print this", "email", "e mail",
    "copy", "copy link", "link copied", "copied", "copied to clipboard", "save", "saved",
    "bookmark", "follow", "follow us", "subscribe", "sign up", "sign in", "log in", "login",
    "register", "menu", "home", "search", "close", "back to top", "advertisement",
    "advertising", "sponsored", "reply", "report", "listen", "listen to this article",
    "min read", "font size", "text size", "facebook", "twitter", "linkedin", "whatsapp",
    "telegram", "messenger", "pinterest", "reddit", "zalo", "more", "next", "previous",
    # vi
    "chia sẻ", "thích", "đã thích", "bỏ thích", "bình luận", "sao chép", "sao chép link",
    "sao chép liên kết", "sao chép thành công", "đã sao chép", "in", "in bài", "in bài viết",
    "lưu", "lưu bài", "lưu tin", "đã lưu", "theo dõi", "quảng cáo", "trang chủ", "đăng nhập",
    "đăng ký", "tìm kiếm", "gửi", "gửi bài", "gửi bình luận", "trả lời", "báo cáo",
    "ảnh đại diện", "nghe", "nghe bài", "nghe đọc bài", "cỡ chữ", "phóng to", "thu nhỏ",
    "tặng sao", "quay lại", "lên đầu trang", "đóng",
    # de
    "teilen", "drucken", "kommentare", "kommentar", "kommentieren", "gefällt mir", "merken",
    "speichern", "folgen", "abonnieren", "anmelden", "anzeige", "werbung", "startseite",
    "suche", "schließen", "link kopiert", "link kopieren", "vorlesen", "mehr",
    # es
    "compartir", "comentarios", "comentar", "imprimir", "me gusta", "guardar", "seguir",
    "suscríbete", "suscribirse", "publicidad", "inicio", "buscar", "cerrar",
    "copiar enlace", "enlace copiado", "escuchar",
    # fr
    "partager", "commenter", "commentaires", "imprimer", "j aime", "enregistrer", "suivre",
    "s abonner", "abonnez vous", "publicité", "accueil", "rechercher", "fermer",
    "copier le lien", "lien copié", "écouter",
    # pt, it
    "compartilhar", "partilhar", "comentários", "curtir", "salvar", "assine", "início",
    "fechar", "copiar link", "link copiado", "ouvir", "condividi", "commenta", "commenti",
    "stampa", "mi piace", "salva", "segui", "iscriviti", "pubblicità", "cerca", "chiudi",
    "copia link", "link copiato", "ascolta",
)  # fmt: skip
_CHROME = re.compile(rf"(?:(?:{_phrase_alternation(_CHROME_PHRASES)})(?: |$))+")

# Section headings that open the tail of a page: related stories, most read, tags.
_MARKER_PHRASES = (
    # en
    "related", "related articles", "related stories", "related news", "related content",
    "related topics", "read more", "read also", "also read", "see also", "more on this",
    "more on this story", "more from", "more stories", "more news", "recommended",
    "recommended for you", "most read", "most popular", "popular", "trending", "you may also like",
    "you might also like", "latest news", "top stories", "tags", "keywords", "topics",
    # vi
    "tin liên quan", "bài liên quan", "nội dung liên quan", "tin cùng chuyên mục",
    "bài cùng chuyên mục", "tin khác", "tin mới", "tin mới nhất", "tin nổi bật",
    "sự kiện nổi bật", "đọc nhiều", "đọc nhiều nhất", "xem thêm", "đọc thêm", "xem nhiều",
    "có thể bạn quan tâm", "từ khóa", "từ khoá", "từ khóa liên quan", "từ khoá liên quan",
    "chủ đề", "chủ đề liên quan",
    # de
    "mehr zum thema", "auch interessant", "das könnte sie auch interessieren",
    "lesen sie auch", "weitere artikel", "meistgelesen", "meistgelesene artikel", "themen",
    "schlagwörter", "verwandte artikel",
    # es
    "lea también", "lee también", "te puede interesar", "le puede interesar",
    "noticias relacionadas", "más noticias", "lo más leído", "relacionado", "relacionados",
    "temas", "etiquetas",
    # fr
    "lire aussi", "à lire aussi", "sur le même sujet", "articles liés", "voir aussi",
    "les plus lus", "à voir aussi", "mots clés", "sujets",
    # pt, it, nl
    "leia também", "veja também", "notícias relacionadas", "mais lidas", "leggi anche",
    "articoli correlati", "potrebbe interessarti", "i più letti", "lees ook", "meer over",
    "gerelateerd",
)  # fmt: skip
_MARKER_ALT = _phrase_alternation(_MARKER_PHRASES)
_MARKER = re.compile(rf"(?:{_MARKER_ALT})")
_MARKER_START = re.compile(rf"(?:{_MARKER_ALT})(?: |$)")

# Photo credits: "Ảnh: X/TTXVN", "Photo: Reuters", "(Foto: dpa)" at the end of a paragraph.
_CREDIT_LABELS = (
    r"ảnh|anh|photo|photos|foto|fotos|fotó|bild|bilder|image|images|picture|source|nguồn|nguon"
    r"|fuente|crédito|credito|crédit|credit|credits|quelle"
)
_CREDIT_TAIL = re.compile(
    rf"(?:^|(?<=[.!?…])\s*|\s+[-–—|]\s*|\s+)(?:{_CREDIT_LABELS})\s*:\s*[^.!?:\n]{{1,60}}$",
    re.IGNORECASE,
)
_CREDIT_PAREN = re.compile(
    rf"[(\[](?:{_CREDIT_LABELS})(?:\s*:\s*|\s+)[^)\]]{{1,60}}[)\]]", re.IGNORECASE
)
# A credit is at most this long: only the end of a paragraph is searched for one.
_CREDIT_TAIL_CHARS = 100

# Footer and crawler cues, matched on case-folded text (case-insensitive alternations are slow
# in ``re``). One cue on a short paragraph, or two anywhere, make it boilerplate.
_URL = re.compile(r"https?://\S+|\bwww\.\S+\.\S+")
_EMAIL = re.compile(r"(?<![\w.+-])[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_TIMESTAMP = re.compile(r"\b\d{1,2}:\d{2}(?::\d{2})?\b.{0,12}\b\d{1,2}[/.-]\d{1,2}[/.-]\d{4}\b")
# Literal heads of the word cues: one fast search rules out most paragraphs.
_HEADS = (
    "hotline", "tel", "phone", "điện thoại", "đt", "fax", "©", "(c)", "copyright",
    "rights reserved", "bản quyền", "rechte vorbehalten", "derechos reservados",
    "droits réservés", "direitos reservados", "diritti riservati", "urheberrecht",
    "giấy phép", "licen", "/gp-", "issn", "impressum", "chủ quản", "chịu trách nhiệm",
    "tổng biên tập", "editor-in-chief", "chefredakteur", "địa chỉ", "address",
    "adresse", "dirección", "indirizzo", "endereço", "anschrift", "clic", "nhấn vào",
    "bấm vào", "klicken", "cookie", "javascript", "trình duyệt", "browser", "tự động",
    "automati", "qr", "app store", "google", "newsletter", "sign up", "subscri",
    "đăng ký nhận", "abonnieren", "suscríbete", "abonnez",
)  # fmt: skip


def _trie(words: Iterable[str]) -> str:
    """An alternation of ``words`` as a tree of their common beginnings ("a(?:bonn(?:ez|..."):
    ``re`` tries an alternation's branches one by one at every place of the text, so a
    search in it is as many times quicker as it has fewer branches. Only for searching: a
    word that begins with another is left out, the shorter one is found there first."""
    tree: dict[str, Any] = {}
    for word in words:
        node = tree
        for ch in word:
            node = node.setdefault(ch, {})
        node[""] = {}

    def alternation(node: dict[str, Any]) -> str:
        if "" in node:
            return ""
        branches = [re.escape(ch) + alternation(node[ch]) for ch in sorted(node)]
        return branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"

    return alternation(tree)


_CUE_HEADS = re.compile(_trie(_HEADS))
_WORD_CUES = (
    re.compile(
        r"(?:hotline|tel|phone|điện thoại|đt|fax|telefon|teléfono|téléphone|telefone|telefono)"
        r"\s*[:.]?\s*\+?\d[\d .()-]{6,}"
    ),
    re.compile(
        r"©|\(c\)\s*\d{4}|copyright|all rights reserved|bản quyền|alle rechte vorbehalten"
        r"|derechos reservados|droits réservés|direitos reservados|diritti riservati"
        r"|urheberrecht"
    ),
    re.compile(
        r"giấy phép|licen[cs]e (?:no|number)|\d/gp-|issn|impressum"
        r"|cơ quan chủ quản|chịu trách nhiệm nội dung|tổng biên tập\s*:|editor-in-chief\s*:"
        r"|chefredakteur"
    ),
    re.compile(r"(?:địa chỉ|address|adresse|dirección|indirizzo|endereço|anschrift)\s*:"),
    re.compile(
        r"click|nhấn vào|bấm vào|klicken sie|haga clic|cliquez|clique|cookie|javascript"
        r"|trình duyệt|browser|tự động|automatically|automatisch|automáticamente"
        r"|automatiquement|newsletter|sign up|subscribe|đăng ký nhận|abonnieren|suscríbete"
        r"|abonnez"
    ),
    re.compile(r"\bqr\b|app store|google ?play|google ?news|tải app"),
)
BOILERPLATE_WORDS = 30


# --- paragraphs ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Para:
    text: str  # normalised, credits removed
    key: str  # lower-cased words: for duplicate detection
    words: int
    caption: bool  # had a photo credit
    chrome: bool  # widget line
    boiler: bool  # footer, crawler notice, URL or contact line
    prose: bool  # a sentence or more
    headline: bool  # shaped like a headline
    marker: bool  # a bare section marker
    counted: int | None = None  # its letters, once counted

    @property
    def letters(self) -> int:
        """Its letters, counted when first asked for: most paragraphs only need to know
        whether they have a few (:meth:`has_letters`)."""
        if self.counted is None:
            self.counted = _n_letters(self.text)
        return self.counted

    def has_letters(self, n: int) -> bool:
        """``letters >= n``."""
        return self.counted >= n if self.counted is not None else _has_letters(self.text, n)


def _strip_credit(text: str) -> tuple[str, bool]:
    stripped = text
    if "(" in text or "[" in text:
        stripped = " ".join(_CREDIT_PAREN.sub("", text).split())
    if ":" in stripped[-_CREDIT_TAIL_CHARS:]:
        # Search the end only, starting at a word boundary so "^" means a word start.
        cut = max(0, len(stripped) - _CREDIT_TAIL_CHARS)
        if cut:
            cut = stripped.find(" ", cut) + 1
        m = _CREDIT_TAIL.search(stripped, cut)
        if m:
            stripped = stripped[: m.start()]
    if stripped == text:
        return text, False
    return stripped.rstrip(" -–—|"), True


def _is_boiler(low: str, words: int) -> bool:
    """Footer, crawler notice, URL or contact line: fewer words than ``BOILERPLATE_WORDS``
    times its cues. Each cue excuses that many words: a long report with a press contact glued
    to its end is still the report, a short line with an address is a footer. The cues are
    counted only as far as the answer needs (a long paragraph would need several). ``low``:
    the line case-folded."""
    need = words // BOILERPLATE_WORDS + 1
    if need > len(_WORD_CUES) + 3:
        return False
    n = int(("://" in low or "www." in low) and _URL.search(low) is not None)
    n += "@" in low and _EMAIL.search(low) is not None
    n += ":" in low and _TIMESTAMP.search(low) is not None
    if n >= need:
        return True
    # The word cues count only on a line with one of their heads.
    need -= n
    if need > len(_WORD_CUES) or _CUE_HEADS.search(low) is None:
        return False
    found = 0
    for k, cue in enumerate(_WORD_CUES):
        found += cue.search(low) is not None
        if found >= need:
            return True
        if found + len(_WORD_CUES) - k - 1 < need:
            return False
    return False


def _analyse(line: str) -> _Para:
    text, caption = _strip_credit(line)
    words = _n_words(text)
    low = text.casefold()
    key = _key(low)
    # Widget lines and section markers are short; their words are matched without numbers.
    ws = _NON_LETTERS.sub(" ", key).strip() if words <= 12 else ""
    end = text[-6:]
    boiler = _is_boiler(low if text is line else line.casefold(), words)
    chrome = bool(ws) and _CHROME.fullmatch(ws) is not None
    terminal = _TERMINAL.search(end) is not None
    prose = (terminal and words >= 6) or words >= 25
    marker = bool(ws) and words <= 6 and _MARKER.fullmatch(ws) is not None
    headline = (
        4 <= words <= 40
        and _TERMINAL_PERIOD.search(end) is None
        and _DANGLING.search(end) is None
        and not boiler
        and not chrome
        and _has_letters(text, 10)
    )
    return _Para(
        text=text,
        key=key,
        words=words,
        caption=caption,
        chrome=chrome or _LETTER.search(text) is None,
        boiler=boiler,
        prose=prose,
        headline=headline,
        marker=marker,
    )


def _substantial(p: _Para) -> bool:
    return p.prose and not p.boiler and not p.chrome
