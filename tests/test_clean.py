"""Cleaning: the five real scraped samples, and crafted pages showing that each rule generalises."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dedup.clean import (
    NotAnArticle,
    clean_article,
    clean_corpus,
    detect_language,
    split_paragraphs,
)
from dedup.models import Article
from dedup.read import read_corpus

SAMPLES = Path(__file__).parent.parent / "samples" / "articles"


@pytest.fixture(scope="module")
def samples() -> dict[str, Article]:
    articles, skipped = read_corpus((str(SAMPLES),), max_bytes=10_000_000)
    assert not skipped
    cleaned = clean_corpus(articles)
    return {a.id[:3]: a for a in cleaned}


def paragraphs(article: Article) -> list[str]:
    return article.text.split("\n\n")


def page(
    title: str, *lines: str, lang: str | None = None, published: dt.date | None = None
) -> Article:
    return Article(id="t", title=title, text="\n".join(lines), lang=lang, published=published)


# --- the five samples ----------------------------------------------------------------------


def test_sample_languages_and_dates(samples: dict[str, Article]) -> None:
    assert {k: a.lang for k, a in samples.items()} == {
        "000": "en",
        "001": "vi",
        "002": "vi",
        "003": "en",
        "004": "vi",
    }
    # No sample has a record date: what their texts give is inferred, never published.
    assert all(a.published is None for a in samples.values())
    assert (samples["003"].inferred, samples["003"].inferred_from) == (
        dt.date(2024, 12, 6),
        "stamp",
    )
    # 001's crawler notice ("lấy tự động vào lúc 10:45:35 23/09/2024") is no dateline.
    assert (samples["001"].inferred, samples["001"].inferred_from) in (
        (None, None),
        (dt.date(2024, 9, 23), "text"),
    )
    for key in ("000", "002", "004"):
        assert samples[key].inferred is None


def test_sample_000_keeps_english_article_drops_sidebars(samples: dict[str, Article]) -> None:
    a = samples["000"]
    assert a.title == (
        "General Secretary and President attends seminar in the US on semiconductors and AI"
    )
    body = paragraphs(a)
    assert body[0].startswith("According to General Secretary and President To Lam")
    assert body[-1].startswith("Vietnam always values international cooperation")
    assert "Thanh Hà" not in a.text
    assert "Full text of speech" not in a.text
    assert "First activity of" not in a.text
    assert "Trương Mỹ Lan" not in a.text  # the Vietnamese sidebar
    assert "Tong Bi thu" not in a.text  # a caption in (un-accented) Vietnamese
    assert "Pointing out that Vietnam has strengths" in a.text
    assert len(body) >= 9


def test_sample_001_refines_title_and_drops_portal_chrome(samples: dict[str, Article]) -> None:
    a = samples["001"]
    assert a.title == (
        "Tổng Bí thư, Chủ tịch nước Tô Lâm dự tọa đàm về phát triển ngành công nghiệp bán dẫn và AI"
    )
    body = paragraphs(a)
    assert body[0].startswith("(ĐCSVN) - Nhân dịp tham dự")
    for chrome in (
        "Nội dung liên quan",
        "Báo điện tử",
        "lấy tự động",
        "https://",
        "vui lòng click",
        "(GMT+7)",
        "Sao chép thành công",
    ):
        assert chrome not in a.text, chrome
    assert body[-1].endswith("phát triển bền vững./.") or body[-1] == "Theo Hoài Nam/TTXVN"
    assert "Ảnh:" not in a.text  # photo credits
    # The same caption printed twice is kept once.
    caption = "Tổng Bí thư, Chủ tịch nước Tô Lâm phát biểu tại Toạ đàm"
    assert sum(p.startswith(caption) for p in body) == 1


def test_sample_002_drops_repeated_captions_and_featured_list(samples: dict[str, Article]) -> None:
    a = samples["002"]
    assert a.title == "Tổng Bí thư Tô Lâm tiếp Chủ tịch Tập đoàn NVIDIA Jensen Huang"
    body = paragraphs(a)
    assert body[0].startswith("Chiều 6.12, tại Trụ sở Trung ương Đảng")
    assert body[-1].startswith("Về tiềm năng phát triển AI Việt Nam")
    assert body.count("Quang cảnh buổi tiếp.") == 1
    assert "Belarus" not in a.text
    assert "Phạm Minh Chính" not in a.text
    assert "Sự kiện nổi bật" not in a.text
    assert "TTXVN" not in a.text
    assert len(body) == len(set(body))


def test_sample_003_kept_whole_with_derived_title(samples: dict[str, Article]) -> None:
    a = samples["003"]
    raw = (SAMPLES / "003_50b3c7c2a6f93c99.txt").read_text(encoding="utf-8")
    raw_paragraphs = split_paragraphs(raw)
    body = paragraphs(a)
    assert len(body) == len(raw_paragraphs)
    assert body[0].startswith("HÀ NỘI — The Vietnamese Party and State consider")
    assert "date 2024-12-06" not in a.text
    assert body[1:] == raw_paragraphs[1:]
    assert a.title.startswith("The Vietnamese Party and State consider US tech giant NVIDIA")
    assert 8 <= len(a.title.split()) <= 20


def test_sample_004_drops_widgets_keywords_and_footer(samples: dict[str, Article]) -> None:
    a = samples["004"]
    assert a.title == (
        "Chính phủ Việt Nam và NVIDIA hợp tác thành lập Trung tâm Nghiên cứu và Phát triển, "
        "Trung tâm Dữ liệu AI"
    )
    body = paragraphs(a)
    assert body[0].startswith("Chiều 5/12, tại Trụ sở Chính phủ")
    assert body[-1].startswith("Chính phủ Việt Nam cam kết tạo mọi điều kiện")
    for chrome in (
        "menu",
        "copy link",
        "kiểm duyệt",
        "GoogleNews",
        "Từ khóa liên quan",
        "Hotline",
        "Địa chỉ",
        "Geleximco",
        "Chia sẻ",
        "QR",
        "ảnh 1",
    ):
        assert chrome not in a.text, chrome
    assert a.title not in a.text  # the headline repeated in the body is gone
    # The caption keeps its text and loses its credit.
    assert any(p.endswith("vui mừng gặp lại nhau") for p in body)


# --- crafted pages: each rule generalises --------------------------------------------------


def test_german_more_on_the_topic_list_is_tail() -> None:
    a = clean_article(
        page(
            "Bundestag beschließt neues Klimaschutzgesetz nach langer Debatte",
            "Berlin – Der Bundestag hat am Donnerstag nach monatelanger Debatte das neue "
            "Klimaschutzgesetz beschlossen. Die Koalition stimmte geschlossen dafür.",
            "Das Gesetz sieht vor, dass Deutschland bis 2045 klimaneutral wird. Die Opposition "
            "kritisierte die Pläne als unzureichend und kündigte eine Klage an.",
            "Umweltverbände begrüßten die Entscheidung, forderten aber schärfere Zwischenziele "
            "für den Verkehrssektor und den Gebäudebereich.",
            "",
            "Mehr zum Thema",
            "Olaf Scholz trifft Emmanuel Macron zu Gesprächen in Paris",
            "Der Kanzler sprach mit dem französischen Präsidenten über die Lage in der Ukraine.",
            "Bayern München gewinnt das Spitzenspiel gegen Borussia Dortmund",
            "Die Münchner siegten am Samstagabend vor ausverkauftem Haus mit drei zu eins.",
            "Teilen",
        )
    )
    assert a.lang == "de"
    assert len(paragraphs(a)) == 3
    for name in ("Mehr zum Thema", "Scholz", "Dortmund", "Teilen"):
        assert name not in a.text


def test_english_footer_and_widgets_are_dropped() -> None:
    a = clean_article(
        page(
            "City council approves new bike lanes downtown",
            "The city council voted on Tuesday to approve a network of protected bike lanes "
            "across downtown streets.",
            "Advertisement",
            "Construction is expected to start next spring and take about two years, the "
            "council said in a statement.",
            "© 2024 Example Media. All rights reserved. Contact: news@example.com",
            "Example Media Ltd, 1 Main Street, Springfield. Registered in England, company "
            "number 01234567. Tel: +44 20 7946 0000.",
        )
    )
    assert paragraphs(a) == [
        "The city council voted on Tuesday to approve a network of protected bike lanes "
        "across downtown streets.",
        "Construction is expected to start next spring and take about two years, the "
        "council said in a statement.",
    ]
    assert a.lang == "en"


def test_repeated_captions_keep_their_text_once_without_credit() -> None:
    a = clean_article(
        page(
            "Wildfire forces thousands to flee hillside towns",
            "A fast-moving wildfire forced thousands of residents to flee hillside towns on "
            "Sunday as strong winds fanned the flames.",
            "Firefighters battle the blaze above the town of Santa Rita. Photo: Jane Doe/Reuters",
            "Firefighters battle the blaze above the town of Santa Rita. Photo: Jane Doe/Reuters",
            "Officials said more than 200 homes were destroyed and that the fire was only ten "
            "percent contained by evening.",
            "Residents wait at an evacuation centre (Photo: AP)",
            "Residents wait at an evacuation centre (Photo: AP)",
        )
    )
    body = paragraphs(a)
    assert body.count("Firefighters battle the blaze above the town of Santa Rita.") == 1
    assert "Reuters" not in a.text
    assert "Photo" not in a.text
    assert (
        body[-1] == "Officials said more than 200 homes were destroyed and that the fire "
        "was only ten percent contained by evening."
    )


def test_short_page_is_left_alone() -> None:
    a = clean_article(page("Storm closes schools", "Schools in the city were closed on Monday."))
    assert a.title == "Storm closes schools"
    assert a.text == "Schools in the city were closed on Monday."


def test_a_page_of_navigation_or_boilerplate_only_is_not_an_article() -> None:
    with pytest.raises(NotAnArticle, match="navigation or boilerplate only"):
        clean_article(
            page("Weekly newsletter", "Subscribe", "Share", "https://example.com/newsletter")
        )
    with pytest.raises(NotAnArticle):  # a site's menu, as trafilatura extracts it
        clean_article(page("Home", "News", "Sport", "About us", "Contact us", "Privacy policy"))
    # Short is not a menu: a one-line report, or two short paragraphs, stay articles.
    assert paragraphs(clean_article(page("Quake", "Buildings fell."))) == ["Buildings fell."]
    assert clean_article(page("Quake", "Toll rises", "Aid arrives")).title == "Quake"


def test_long_report_with_a_press_contact_glued_to_it_stays() -> None:
    report = (
        "Unknown people blew up a cigarette machine on the wall of a restaurant early on "
        "Sunday morning. Witnesses heard a loud bang shortly after three o'clock and saw two "
        "men running towards the station. The machine was destroyed and the thieves took "
        "cigarettes and cash. The damage is estimated at several thousand euros, and the "
        "police are asking anyone who saw something to come forward. Press contact: Police "
        "press office, Tel: 05231 609 5050, E-Mail: press@police.example"
    )
    a = clean_article(page("Cigarette machine blown up", report))
    assert paragraphs(a) == [report]


SPANISH_LIST = (
    "Las lluvias torrenciales dejan graves inundaciones en Valencia y Murcia",
    "El Gobierno aprueba nuevas ayudas para los agricultores afectados por la sequía.",
    "Pedro Sánchez se reúne con los presidentes autonómicos en Madrid",
    "La oposición critica la gestión de la crisis del agua en Cataluña y pide explicaciones.",
)
ENGLISH_BODY = (
    "Heavy rain flooded hundreds of homes in coastal towns of northern Portugal on Monday, "
    "officials said.",
    "Emergency services evacuated more than 300 people overnight and closed two main roads "
    "near Porto.",
    "The weather service expects more rain later this week and has issued an orange alert "
    "for the coast.",
)


def test_english_page_with_spanish_related_block_after_it() -> None:
    a = clean_article(
        page("Storm floods coastal towns in northern Portugal", *ENGLISH_BODY, *SPANISH_LIST)
    )
    assert paragraphs(a) == list(ENGLISH_BODY)
    assert a.lang == "en"


def test_single_quote_in_another_language_inside_the_body_stays() -> None:
    quote = (
        "« Nous sommes très heureux de cette décision historique pour notre pays », a déclaré "
        "le ministre français."
    )
    body = (ENGLISH_BODY[0], quote, ENGLISH_BODY[1], ENGLISH_BODY[2])
    a = clean_article(page("Storm floods coastal towns in northern Portugal", *body))
    assert paragraphs(a) == list(body)


@pytest.mark.parametrize("label", ["Anna Berg |", "Markets"])
def test_related_headlines_with_bylines_or_labels_are_tail(label: str) -> None:
    a = clean_article(
        page(
            "Storm floods coastal towns in northern Portugal",
            *ENGLISH_BODY,
            "Stocks rally as inflation in the euro area cools again",
            label,
            "Shares rose on Friday after new figures showed prices easing.",
            "Central bank signals a pause in rate rises this summer",
            label,
            "The bank said it would wait for more data before acting.",
        )
    )
    assert paragraphs(a) == list(ENGLISH_BODY)


def test_read_more_inside_the_body_does_not_cut_the_article() -> None:
    more = tuple(
        f"Paragraph {n} of the report goes on with details about the flooding, the damage "
        "to farms and roads, and what the regional government intends to do next week."
        for n in range(4)
    )
    a = clean_article(
        page("Storm floods coastal towns in northern Portugal", *ENGLISH_BODY, "Read more", *more)
    )
    assert paragraphs(a) == [*ENGLISH_BODY, *more]


def test_chrome_title_is_replaced_by_the_headline() -> None:
    a = clean_article(
        page(
            "menu",
            "Home » World » Europe",
            "Storm floods coastal towns in northern Portugal",
            "copy link",
            "By Maria Silva",
            *ENGLISH_BODY,
            "Storm floods coastal towns in northern Portugal photo 1",
            "Share",
        )
    )
    assert a.title == "Storm floods coastal towns in northern Portugal"
    assert paragraphs(a) == list(ENGLISH_BODY)


def test_breadcrumb_title_is_replaced() -> None:
    a = clean_article(
        page(
            "Home » World » Europe",
            "Storm floods coastal towns in northern Portugal",
            *ENGLISH_BODY,
        )
    )
    assert a.title == "Storm floods coastal towns in northern Portugal"
    assert paragraphs(a) == list(ENGLISH_BODY)


def test_prompt_before_the_lead_is_dropped_but_an_on_topic_first_paragraph_stays() -> None:
    prompt = "Sign up for our free newsletter to get the best stories in your inbox every day."
    first = (
        "Heavy rain hit the city on Monday, and the authorities ordered every classroom shut "
        "until the water recedes."
    )
    lead = "The storm closed schools across the region, officials said."
    rest = "City officials said the rain would ease by Wednesday and classrooms could reopen."
    a = clean_article(page("Storm closes schools", prompt, first, lead, rest))
    assert paragraphs(a) == [first, lead, rest]


@pytest.mark.parametrize(
    "title", ["Brexit vote", "Popular uprising topples the government in the capital"]
)
def test_plausible_titles_are_kept(title: str) -> None:
    a = clean_article(page(title, *ENGLISH_BODY))
    assert a.title == title
    assert paragraphs(a) == list(ENGLISH_BODY)


def test_paragraph_read_as_title_gives_a_derived_title_and_a_date() -> None:
    lead = (
        "LONDON — The Bank of England raised interest rates by a quarter point on Thursday, "
        "its twelfth increase in a row, as inflation stayed well above its target."
    )
    a = clean_article(page(f"date 2023-05-04 {lead}", *ENGLISH_BODY[1:]))
    assert (a.published, a.inferred, a.inferred_from) == (None, dt.date(2023, 5, 4), "stamp")
    assert a.title == "The Bank of England raised interest rates by a quarter point on Thursday"
    assert paragraphs(a) == [lead, *ENGLISH_BODY[1:]]


def test_given_language_and_date_are_kept() -> None:
    a = clean_article(
        page(
            "Storm floods coastal towns in northern Portugal",
            *ENGLISH_BODY,
            lang="pt",
            published=dt.date(2020, 1, 2),
        )
    )
    assert (a.lang, a.published, a.inferred) == ("pt", dt.date(2020, 1, 2), None)


def test_date_from_a_dateline_in_the_text() -> None:
    a = clean_article(
        page(
            "Storm floods coastal towns in northern Portugal",
            f"PORTO, 6/12/2024 - {ENGLISH_BODY[0]}",
            *ENGLISH_BODY[1:],
        )
    )
    # A dateline is read, as the inferred date: English month first.
    assert (a.published, a.inferred, a.inferred_from) == (None, dt.date(2024, 6, 12), "dateline")


def test_clean_corpus_keeps_order() -> None:
    pages = [page(f"Story number {n} about the storm in Portugal", *ENGLISH_BODY) for n in range(3)]
    assert [a.title for a in clean_corpus(pages)] == [p.title for p in pages]


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet=st.characters(codec="utf-8"), max_size=40),
    st.lists(st.text(alphabet=st.characters(codec="utf-8"), max_size=80), max_size=8),
)
def test_cleaning_never_empties_a_body(title: str, lines: list[str]) -> None:
    """Cleaning leaves a body, or says the page is not an article: never an empty one."""
    article = page(title, *lines)
    try:
        cleaned = clean_article(article)
    except NotAnArticle:
        return
    if split_paragraphs(article.text):
        assert cleaned.text
    assert all(p == " ".join(p.split()) and p for p in cleaned.text.split("\n\n") if cleaned.text)


# --- helpers -------------------------------------------------------------------------------


def test_detect_language() -> None:
    assert detect_language("") is None
    assert detect_language("ok ok") is None
    assert detect_language("The government announced new measures to curb inflation.") == "en"
    assert detect_language("Chính phủ công bố các biện pháp mới để kiềm chế lạm phát.") == "vi"


def test_split_paragraphs_normalises() -> None:
    text = "Cafe\u0301  con\u00a0leche\u200b\r\n\n   \n\tSecond   line  "
    assert split_paragraphs(text) == ["Café con leche", "Second line"]


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.lists(st.sampled_from(["storm", "kirk", "lisbon", "port", "a", "b"]), max_size=12),
        min_size=1,
        max_size=30,
    )
)
def test_indexed_duplicate_check_agrees_with_comparing_every_kept_paragraph(
    paragraphs: list[list[str]],
) -> None:
    """The word-pair index (linear on long articles) finds exactly what a comparison with every
    kept paragraph finds."""
    from dedup.clean import _Seen
    from dedup.clean.paragraphs import _analyse

    seen, kept = _Seen(), []
    for words in paragraphs:
        p = _analyse(" ".join(words))
        padded = f" {p.key} "
        brute = bool(p.key) and (
            p.key in kept or (4 <= p.words <= 40 and any(padded in f" {k} " for k in kept))
        )
        assert seen.has(p) == brute
        if not brute and p.key:
            seen.add(p.key)
            kept.append(p.key)


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x2FF), max_size=40) | st.text(max_size=20))
def test_a_paragraph_key_made_by_a_byte_table_is_the_regex_s(text: str) -> None:
    """Latin-1 text has its key made by a byte table: the same key as the regex makes."""
    from dedup.clean.paragraphs import _NON_WORD, _key
    from dedup.clean.title import _DIGITS, _without_digits

    low = text.casefold()
    key = _key(low)
    assert key == _NON_WORD.sub(" ", low).strip()
    assert _without_digits(key).split() == _DIGITS.sub(" ", key).split()
