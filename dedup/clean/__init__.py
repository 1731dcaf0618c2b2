"""Cleaning: normalise scraped article text, drop boilerplate, find the language and the date.

Scraped pages carry text that must not steer similarity: related-headline lists, repeated photo
captions, share widgets, publisher footers, crawler notices and sidebars in another language.
The rules here are generic (no outlet names, no per-site lists) and work on paragraph units:
every non-empty line of the text is one paragraph.

The shape of a page the rules assume::

    [head chrome]  title  [head chrome]  LEAD  body ...  LAST BODY  [tail: lists, footers]

* the **title** is the reader's first line unless that line is chrome (a menu word, a
  breadcrumb, a site name) or a whole paragraph; then a headline-like line near the top that
  is repeated later or shares the most words with the lead, or else the lead's first sentence;
* the **lead** is the first prose paragraph near the top that shares words with the title;
  whatever comes before it (bylines, "copy link", crawler notices) is head chrome;
* the **tail** starts at a bare section marker ("Related", "Tin liên quan", "Mehr zum Thema"),
  at a run of headlines each followed by a byline or category label, or at a block in another
  language than the article's that fills most of the rest; after the last prose paragraph
  before it, everything is tail chrome (sign-offs, footers, share widgets);
* inside the body, duplicate paragraphs, repeats of the title, photo credits, widget lines,
  short paragraphs with addresses/e-mails/URLs and captions in another language are dropped.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from functools import cache, lru_cache
from itertools import pairwise
from typing import Any

from wordfreq import available_languages, top_n_list

from dedup.clean.dates import find_mentions
from dedup.models import Article

log = logging.getLogger(__name__)


# Dates are read from the first characters only: datelines and stamps sit there, while dates
# further down refer to other events ("since 9/2023") or to footers (licence dates).
DATE_WINDOW = 500
# Fewer letters than this and a language guess is noise.
MIN_LANG_LETTERS = 20
# Least calibrated probability for a language guess.
MIN_LANG_CONFIDENCE = 0.5
# Characters of a text the language guesser reads: enough for a firm guess, and it is linear.
LANG_CHARS = 400
PARAGRAPH_LANG_CHARS = 200
# A paragraph is in another language when the article's language gets less than this share.
FOREIGN_MAX_PROBABILITY = 0.05
# A paragraph whose words are at least this share of the language's commonest words is in
# that language without asking the model.
NATIVE_COMMON_SHARE = 0.2
# How far down the page the title and the lead are looked for (paragraphs).
HEAD_WINDOW = 8
# A derived title (from the lead's first sentence) is cut to about this many words.
TITLE_WORDS = 15

# --- character-level normalisation ---------------------------------------------------------

# Soft hyphen, zero-width space, word joiner, byte-order mark: invisible and never meaningful.
# Zero-width (non-)joiners stay: Persian and Indic scripts need them.
_INVISIBLE = dict.fromkeys(map(ord, "\u00ad\u200b\u2060\ufeff"), None)

_WORDS = re.compile(r"[^\W\d_]+")
_NON_LETTERS = re.compile(r"[\W\d_]+")
_NON_WORD = re.compile(r"[\W_]+")
# Scripts written without spaces between words: count characters, not space-separated tokens.
_UNSPACED = re.compile(r"[\u0e00-\u0eff\u1000-\u109f\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff]")
_TERMINAL = re.compile(r"[.!?…。！？؟।](?:[\"'”’»)\]]*)$")
_TERMINAL_PERIOD = re.compile(r"[.…。](?:[\"'”’»)\]]*)$")
_DANGLING = re.compile(r"[,;:|/\\»›>\-–—]$")
_BREADCRUMB = re.compile(r"\s[»›>]\s")
_BYLINE = re.compile(r"^[^|]{1,60}\|$")


def split_paragraphs(text: str) -> list[str]:
    """Unicode NFC, whitespace collapsed; each non-empty line is one paragraph."""
    text = unicodedata.normalize("NFC", text).translate(_INVISIBLE)
    out = []
    for line in text.splitlines():
        line = " ".join(line.split())
        if line:
            out.append(line)
    return out


def _normalise_line(line: str) -> str:
    return " ".join(unicodedata.normalize("NFC", line).translate(_INVISIBLE).split())


def _n_words(text: str) -> int:
    unspaced = len(_UNSPACED.findall(text))
    return len(text.split()) + unspaced // 2


def _n_letters(text: str) -> int:
    return len(_NON_LETTERS.sub("", text))


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
_CUE_HEADS = re.compile(
    "|".join(
        re.escape(h)
        for h in (
            "hotline", "tel", "phone", "điện thoại", "đt", "fax", "©", "(c)", "copyright",
            "rights reserved", "bản quyền", "rechte vorbehalten", "derechos reservados",
            "droits réservés", "direitos reservados", "diritti riservati", "urheberrecht",
            "giấy phép", "licen", "/gp-", "issn", "impressum", "chủ quản", "chịu trách nhiệm",
            "tổng biên tập", "editor-in-chief", "chefredakteur", "địa chỉ", "address",
            "adresse", "dirección", "indirizzo", "endereço", "anschrift", "clic", "nhấn vào",
            "bấm vào", "klicken", "cookie", "javascript", "trình duyệt", "browser", "tự động",
            "automati", "qr", "app store", "google", "newsletter", "sign up", "subscri",
            "đăng ký nhận", "abonnieren", "suscríbete", "abonnez",
        )
    )
)  # fmt: skip
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

# "date 2024-12-06" stamps some scrapers put before the text.
_DATE_STAMP = re.compile(r"^date\s+(\d{4}-\d{1,2}-\d{1,2})\b[\s:|,-]*", re.IGNORECASE)
# A dateline before the text: "HÀ NỘI —", "WASHINGTON (Reuters) -".
_DATELINE = re.compile(r"^([^—–\-]{2,40}?)\s+[—–-]{1,2}\s+")
_PAREN = re.compile(r"\([^)]*\)")
_CLAUSE_BREAK = re.compile(r"\s[—–-]\s|[,;:]\s")
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+(?=[\"'“‘(]?[^\W\d_])")


# --- paragraphs ----------------------------------------------------------------------------


@dataclass(slots=True)
class _Para:
    text: str  # normalised, credits removed
    key: str  # lower-cased words: for duplicate detection
    words: int
    letters: int
    caption: bool  # had a photo credit
    chrome: bool  # widget line
    boiler: bool  # footer, crawler notice, URL or contact line
    prose: bool  # a sentence or more
    headline: bool  # shaped like a headline
    marker: bool  # a bare section marker


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


def _cue_count(text: str) -> int:
    low = text.casefold()
    n = sum(1 for cue in _WORD_CUES if cue.search(low)) if _CUE_HEADS.search(low) else 0
    if ("://" in low or "www." in low) and _URL.search(low):
        n += 1
    if "@" in low and _EMAIL.search(low):
        n += 1
    if ":" in low and _TIMESTAMP.search(low):
        n += 1
    return n


def _analyse(line: str) -> _Para:
    text, caption = _strip_credit(line)
    words = _n_words(text)
    key = _NON_WORD.sub(" ", text.casefold()).strip()
    letters = _n_letters(text)
    # Widget lines and section markers are short; their words are matched without numbers.
    ws = _NON_LETTERS.sub(" ", key).strip() if words <= 12 else ""
    end = text[-6:]
    cues = _cue_count(line)
    # Each cue excuses that many words: a long report with a press contact glued to its end
    # is still the report, a short line with an address is a footer.
    boiler = words < BOILERPLATE_WORDS * cues
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
        and letters >= 10
    )
    return _Para(
        text=text,
        key=key,
        words=words,
        letters=letters,
        caption=caption,
        chrome=chrome or (letters == 0),
        boiler=boiler,
        prose=prose,
        headline=headline,
        marker=marker,
    )


def _substantial(p: _Para) -> bool:
    return p.prose and not p.boiler and not p.chrome


# --- words shared between title and paragraphs ---------------------------------------------

#: Languages wordfreq has a frequency list for.
WORDFREQ_LANGUAGES = frozenset(available_languages())


@cache
def _stopwords(lang: str | None) -> frozenset[str]:
    """The commonest words of a language: shared by any two texts, so they prove nothing."""
    if lang not in WORDFREQ_LANGUAGES:
        return frozenset()
    return frozenset(w.casefold() for w in top_n_list(lang, 150))


def _content_words(text: str, stop: frozenset[str]) -> set[str]:
    return {w for w in _WORDS.findall(text.casefold()) if len(w) > 1 and w not in stop}


# --- language ------------------------------------------------------------------------------

# py3langid labels that are not ISO 639-1 but belong to a language that has a 639-1 code.
_MACRO = {"arz": "ar", "ary": "ar", "wuu": "zh", "yue": "zh", "uzs": "uz", "gug": "gn"}
# Languages a guesser confuses on short texts: one of them is not "another language".
_CONFUSABLE = (
    frozenset({"hr", "sr", "bs", "sh"}),
    frozenset({"ms", "id"}),
    frozenset({"no", "nb", "nn", "da"}),
    frozenset({"gl", "pt"}),
    frozenset({"ca", "oc"}),
    frozenset({"en", "pcm"}),
    frozenset({"ar", "arz", "ary"}),
    frozenset({"zh", "wuu", "yue"}),
)


@cache
def _identifier() -> Any:
    # Loaded once: reading the model takes a while, and calibrated probabilities let us say
    # "unsure" instead of guessing.
    from py3langid.langid import MODEL_FILE, LanguageIdentifier

    return LanguageIdentifier.from_model_file(MODEL_FILE, norm_probs=True)


def _family(lang: str) -> frozenset[str]:
    for group in _CONFUSABLE:
        if lang in group:
            return group
    return frozenset({lang})


def _iso(label: str) -> str | None:
    label = _MACRO.get(label, label)
    return label if len(label) == 2 else None


def detect_language(text: str) -> str | None:
    """ISO 639-1 code of the text's language, or None when the text is too short or unclear."""
    return _detect(text[:LANG_CHARS])


@lru_cache(maxsize=1024)
def _detect(text: str) -> str | None:
    # Memoised: cleaning asks twice for the same text when a page has no head chrome.
    if _n_letters(text) < MIN_LANG_LETTERS:
        return None
    ranked = _identifier().rank(text)
    label = str(ranked[0][0])
    # Languages the model confuses share their probability ("en" and Nigerian Pidgin).
    family = _family(label)
    if sum(prob for lang, prob in ranked if lang in family) < MIN_LANG_CONFIDENCE:
        return None
    return _iso(label)


def _base_lang(lang: str | None) -> str | None:
    """``en-US`` -> ``en``; None for what is not a language code."""
    if not lang:
        return None
    base = re.split(r"[-_]", lang.strip().lower(), maxsplit=1)[0]
    return base if 2 <= len(base) <= 3 and base.isalpha() else None


class _Foreign:
    """Per-paragraph "is this in another language than the article's", computed lazily."""

    def __init__(self, paras: Sequence[_Para], lang: str | None) -> None:
        self._paras = paras
        labels = set(_identifier().labels) if lang else set()
        self._family = _family(lang) & labels if lang else frozenset()
        self._stop = _stopwords(lang)
        self._memo: dict[int, bool | None] = {}

    def __call__(self, i: int) -> bool | None:
        """True/False, or None when the paragraph is too short to tell."""
        if not self._family:
            return False
        if i not in self._memo:
            p = self._paras[i]
            if p.letters < MIN_LANG_LETTERS:
                self._memo[i] = None
            elif self._native(p.key):
                self._memo[i] = False
            else:
                ranked = _identifier().rank(p.text[:PARAGRAPH_LANG_CHARS])
                top, top_p = ranked[0]
                own = sum(prob for label, prob in ranked if label in self._family)
                self._memo[i] = (
                    top not in self._family
                    and top_p >= MIN_LANG_CONFIDENCE
                    and own < FOREIGN_MAX_PROBABILITY
                )
        return self._memo[i]

    def _native(self, key: str) -> bool:
        """Plainly in the article's language: many of its commonest words (cheap, no model)."""
        if not self._stop:
            return False
        words = key.split()
        common = sum(1 for w in words if w in self._stop)
        return common >= 3 and common >= NATIVE_COMMON_SHARE * len(words)


# --- dates ---------------------------------------------------------------------------------

# Every full date has a four-digit year: most leads have none, and need no further look.
_YEAR = re.compile(r"(?<!\d)(?:19|20)\d\d(?!\d)")


def find_date(text: str, lang: str | None) -> dt.date | None:
    """The first full date (with a year) in the first characters of ``text``, or None.

    Reads the forms of :mod:`dedup.clean.dates`: ISO dates, numeric dates (day first; month
    first for English ``mm/dd/yyyy``), month names in several languages, Vietnamese
    ``6 tháng 12 năm 2024`` and Chinese ``2024年12月6日``.
    """
    window = text[:DATE_WINDOW]
    if _YEAR.search(window) is None:
        return None
    for mention in find_mentions(window, _base_lang(lang)):
        date = mention.as_date()
        if date is not None:
            return date
    return None


# --- title ---------------------------------------------------------------------------------


def _is_chrome_title(title: str, p: _Para) -> bool:
    """A menu word, a breadcrumb, a site name ending in a comma: never a headline."""
    return (
        p.chrome
        or p.boiler
        or _DANGLING.search(title) is not None
        or _BREADCRUMB.search(title) is not None
    )


def _is_paragraph_title(p: _Para) -> bool:
    """A first "line" that is a whole paragraph, not a headline."""
    return p.words > 40 or (p.words >= 15 and _TERMINAL_PERIOD.search(p.text) is not None)


def _repeats(key: str, later: Iterable[_Para]) -> bool:
    """Whether a line comes again (alone, or with a few words added, as in "<title> photo 1")."""
    n = len(key.split())
    for q in later:
        if q.key == key or (q.key.startswith(key + " ") and len(q.key.split()) - n <= 3):
            return True
    return False


def _derive_title(text: str) -> str:
    """A headline from a lead paragraph: its first sentence, without dateline, ~15 words."""
    m = _DATELINE.match(text)
    if m and _PAREN.sub("", m.group(1)).isupper():
        text = text[m.end() :]
    sentences = _SENTENCE_END.split(text)
    sentence = sentences[0].strip()
    # "Detmold. Washing machine seized." is one headline, not "Detmold".
    for more in sentences[1:]:
        if len(sentence.split()) >= 4:
            break
        sentence = f"{sentence} {more.strip()}"
    words = sentence.split()
    if len(words) <= TITLE_WORDS + 5:
        return sentence.rstrip(".")
    # Prefer the first clause boundary after 8 words to a cut mid-phrase.
    for m in _CLAUSE_BREAK.finditer(sentence):
        n = len(sentence[: m.start()].split())
        if 8 <= n <= TITLE_WORDS + 5:
            return sentence[: m.start()].rstrip(" ,;:")
    return " ".join(words[:TITLE_WORDS]).rstrip(" ,;:") + " …"


@dataclass(slots=True)
class _Title:
    text: str
    index: int | None  # the paragraph it came from, if any (removed from the body)
    derived: bool = False  # made from the lead, which stays in the body


def _choose_title(
    given: str, given_para: _Para | None, paras: Sequence[_Para], stop: frozenset[str]
) -> _Title:
    head = range(min(HEAD_WINDOW, len(paras)))

    def lead_words(after: int) -> set[str]:
        out: set[str] = set()
        taken = 0
        for q in paras[after + 1 :]:
            if _substantial(q):
                out |= _content_words(q.text, stop)
                taken += 1
                if taken == 3:
                    break
        return out

    def score(text: str, key: str, at: int) -> float:
        words = _content_words(text, stop)
        overlap = len(words & lead_words(at)) / len(words) if words else 0.0
        return overlap + (1.0 if _repeats(key, paras[at + 1 :]) else 0.0)

    candidates = [(score(paras[i].text, paras[i].key, i), i) for i in head if paras[i].headline]
    best = max(candidates, key=lambda c: (c[0], -c[1]), default=None)
    if best is not None and best[0] < 0.3:
        best = None
    chrome = True
    if not given:
        # No title given: the best headline near the top, or simply the first one.
        first = next((i for i in head if paras[i].headline), None)
        if best is None and first is not None:
            return _Title(paras[first].text, first)
    elif given_para is not None:
        if _is_paragraph_title(given_para):
            return _Title(_derive_title(given_para.text), None, derived=True)
        chrome = _is_chrome_title(given, given_para)
        if not chrome:
            # A plausible title stays unless a line near the top is clearly the headline:
            # the given one is a word or two, or starts like a section heading ("Related
            # content: World, Asia"), or shares nothing with the text while that line does.
            weak = given_para.words <= 2 or _MARKER_START.match(given_para.key) is not None
            unrelated = score(given_para.text, given_para.key, -1) == 0
            if best is None or not (weak or (unrelated and best[0] >= 0.5)):
                return _Title(given_para.text, None)
    if best is not None:
        return _Title(paras[best[1]].text, best[1])
    if chrome:
        for q in paras:
            if _substantial(q):
                return _Title(_derive_title(q.text), None, derived=True)
    return _Title(given, None)


# --- the tail ------------------------------------------------------------------------------


def _is_label(p: _Para, counts: Counter[str]) -> bool:
    """A byline ("Thanh Hà |") or a category label that recurs ("Politics")."""
    if _BYLINE.match(p.text) and p.words <= 6:
        return True
    return p.words <= 4 and not p.prose and counts[p.key] >= 2 and p.letters > 0


def _list_start(paras: Sequence[_Para], lead: int, end: int) -> int:
    """Start of a related-headline list: headlines each followed by a byline or label."""
    counts = Counter(p.key for p in paras)
    units = [
        i for i in range(lead + 1, end - 1) if paras[i].headline and _is_label(paras[i + 1], counts)
    ]
    for first, second in pairwise(units):
        if second - first <= 5:
            start = first
            # Headlines with a teaser and no byline just before belong to the same list.
            while (
                start - 2 > lead
                and paras[start - 2].headline
                and paras[start - 1].prose
                and paras[start - 1].words <= 60
            ):
                start -= 2
            return start
    return end


def _marker_cut(paras: Sequence[_Para], lead: int, end: int) -> int:
    for i in range(lead + 1, end):
        if paras[i].marker:
            # A "Read more" inside the body is followed by more body: several long
            # paragraphs in a row. A list after a marker alternates headlines and teasers.
            run = longest = 0
            for q in paras[i + 1 : end]:
                run = run + 1 if _substantial(q) and q.words >= 25 else 0
                longest = max(longest, run)
            if longest < 3:
                return i
    return end


def _language_cut(paras: Sequence[_Para], lead: int, end: int, foreign: _Foreign) -> int:
    """Start of a block in another language that fills most of what follows it."""
    total = [0] * (end + 1)
    for i in range(end - 1, lead, -1):
        total[i] = total[i + 1] + paras[i].letters
    for i in range(lead + 1, end):
        if not foreign(i):
            continue
        nxt = next((j for j in range(i + 1, end) if foreign(j) is not None), None)
        if nxt is None or not foreign(nxt):
            continue
        foreign_letters = sum(paras[j].letters for j in range(i, end) if foreign(j))
        if foreign_letters >= 0.5 * total[i]:
            return i
    return end


# --- the article ---------------------------------------------------------------------------


@dataclass(slots=True)
class _Cleaned:
    title: str
    paragraphs: list[str]
    head_text: str  # the text before the lead: datelines and crawl stamps live there
    uncleaned: list[str]  # every paragraph, for when the rules would leave nothing
    stamp: dt.date | None


def _strip_stamp(line: str) -> tuple[str, dt.date | None]:
    m = _DATE_STAMP.match(line)
    if not m:
        return line, None
    mentions = find_mentions(m.group(1), None)
    return line[m.end() :], mentions[0].as_date() if mentions else None


def _clean(title: str, text: str, lang: str | None) -> _Cleaned:
    title, stamp = _strip_stamp(_normalise_line(title))
    lines = split_paragraphs(text)
    if lines:
        lines[0], body_stamp = _strip_stamp(lines[0])
        stamp = stamp or body_stamp
        if not lines[0]:
            lines.pop(0)
    paras = [_analyse(line) for line in lines]
    given_para = _analyse(title) if title else None
    if lang is None:
        lang = detect_language(_lang_sample(title, lines))
    stop = _stopwords(lang)

    chosen = _choose_title(title, given_para, paras, stop)
    if given_para is not None and chosen.index is None and _is_paragraph_title(given_para):
        # The reader took a whole paragraph for the title: it is the lead, put it back.
        paras.insert(0, given_para)
        lines.insert(0, title)
    title_para = _analyse(chosen.text)

    start = 0 if chosen.index is None else chosen.index + 1
    firsts = [i for i in range(len(paras)) if _substantial(paras[i])]
    # The lead: the first prose paragraph after the title; what comes before it is chrome.
    lead = next((i for i in firsts if i >= start), firsts[0] if firsts else None)
    if lead is None:
        # No prose at all (a brief): every line that is not chrome is body.
        lead = next((i for i, p in enumerate(paras) if not (p.chrome or p.boiler)), len(paras))
        substantial = [i for i, p in enumerate(paras) if not (p.chrome or p.boiler)]
    else:
        substantial = firsts
    head_text = "\n".join([title, *lines[:lead]])

    end = len(paras)
    end = min(end, _marker_cut(paras, lead, end))
    end = min(end, _list_start(paras, lead, end))
    foreign = _Foreign(paras, _base_lang(lang))
    end = min(end, _language_cut(paras, lead, end, foreign))
    last = max((i for i in substantial if lead <= i < end), default=lead - 1)

    kept: list[str] = []
    # A derived title is the lead's own first sentence: the lead stays.
    title_key = "" if chosen.derived else title_para.key
    seen = _Seen()
    if title_key:
        seen.add(title_key)
    for i in range(lead, last + 1):
        p = paras[i]
        if i == chosen.index or not p.text or p.chrome or p.boiler or p.marker:
            continue
        if (title_key and _is_title_repeat(title_key, p.key)) or seen.has(p):
            continue
        if p.caption and i != lead and foreign(i):
            continue
        kept.append(p.text)
        seen.add(p.key)
    return _Cleaned(chosen.text, kept, head_text, lines, stamp)


def _lang_sample(title: str, paragraphs: Sequence[str]) -> str:
    sample = []
    size = 0
    for part in (title, *paragraphs):
        sample.append(part)
        size += len(part) + 1
        if size >= LANG_CHARS:
            break
    return "\n".join(sample)


def _is_title_repeat(title_key: str, key: str) -> bool:
    if key == title_key:
        return True
    n = len(title_key.split())
    return n >= 6 and key.startswith(title_key + " ") and len(key.split()) - n <= 3


def _pairs(key: str) -> set[tuple[str, str]]:
    return set(pairwise(key.split()))


class _Seen:
    """The keys of the paragraphs kept so far, indexed by pairs of adjacent words: a key can
    only be inside a kept one that has all its word pairs, so a caption is compared with the
    kept paragraphs holding its rarest pair, not with all of them (a 2 MB article of 21,000
    paragraphs was quadratic here)."""

    def __init__(self) -> None:
        self.keys: set[str] = set()
        self.padded: list[str] = []
        self.by_pair: dict[tuple[str, str], list[int]] = defaultdict(list)

    def add(self, key: str) -> None:
        self.keys.add(key)
        for pair in _pairs(key):
            self.by_pair[pair].append(len(self.padded))
        self.padded.append(f" {key} ")

    def has(self, p: _Para) -> bool:
        """Seen before, or (for a short paragraph such as a caption) inside what was seen."""
        if not p.key:
            return False
        if p.key in self.keys:
            return True
        if 4 <= p.words <= 40:
            padded = f" {p.key} "
            pairs = _pairs(p.key)
            if not pairs:  # a one-word key: no pair to look it up by
                return any(padded in kept for kept in self.padded)
            postings = min((self.by_pair.get(pair, []) for pair in pairs), key=len)
            return any(padded in self.padded[k] for k in postings)
        return False


def clean_article(article: Article) -> Article:
    """The article with boilerplate removed, its title refined, its language and date set."""
    given_lang = article.lang
    cleaned = _clean(article.title, article.text, _base_lang(given_lang))
    body = "\n\n".join(cleaned.paragraphs)
    title = cleaned.title
    if not body and cleaned.uncleaned:
        # Never empty an article: the rules found nothing to keep, so keep it all.
        body = "\n\n".join(cleaned.uncleaned)
        title = title or _normalise_line(article.title)
    lang = given_lang or detect_language(_lang_sample(title, body.split("\n\n")))
    published = article.published
    if published is None:
        published = (
            cleaned.stamp
            or find_date(f"{title}\n{body}", lang)
            or find_date(cleaned.head_text, lang)
        )
    return replace(article, title=title, text=body, lang=lang, published=published)


def clean_corpus(articles: Sequence[Article]) -> list[Article]:
    """Every article cleaned, in the same order."""
    out = [clean_article(a) for a in articles]
    log.debug("cleaned %d articles", len(out))
    return out


__all__ = [
    "WORDFREQ_LANGUAGES",
    "clean_article",
    "clean_corpus",
    "detect_language",
    "find_date",
    "split_paragraphs",
]
