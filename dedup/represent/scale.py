"""The scale a similarity is read on, whatever the corpus: the rules that look beyond a pair's
two vectors (per-language centring, the lift of short texts, the day discount).
:mod:`dedup.represent.similarity` applies them; the numbers they take per model (its means,
its lift) are in its calibration table.

Per-language centring: multilingual models place articles of one language near each other,
whatever their story. Subtracting each language's mean vector removes that shared direction.
The mean is shrunk for a language with ``n`` articles, ``(n x mean + CENTRING_PRIOR x prior)
/ (n + CENTRING_PRIOR)``, so that on a tiny corpus (a language with one or two articles) an
article is not subtracted from itself. The prior is the model's own mean for texts of the
article's length when its calibration has one (its mean over the dev articles, moved towards
its mean over the same cut to their first sentence as the article is short:
:func:`length_prior`; multilingual-e5-small's cosines between any two news articles sit near
0.76: without a prior, six unrelated English articles were one story), else zero.

Short texts: a model's cosine between two one-sentence items of one story sits lower than
between two articles of it, since there is less to agree on (the dev pairs cut to their first
sentence: same-story pairs at a median centred cosine of 0.39-0.42 against 0.47-0.60 whole),
so the dense evidence of a pair counts ``1 + short_lift x shortness`` times (at most 1), where
``shortness`` falls from 1 for two empty texts to 0 when the longer of the two has
``SHORT_CHARS`` characters: both must be short (a headline beside an article is not lifted,
and the few short texts among the dev articles barely move), and the lift trusts a centred
cosine as far as the means it was centred by are the corpus's own (:func:`centred_share`: in a
handful of short items, where centring leans on the prior, it barely lifts). ``short_lift``
is the model's (its calibration table), chosen by ``bench/calibrate.py`` with its thresholds,
by one rule on articles and short items at once. It is one rule for the dense and hybrid
backends alike; the lexical backend has no dense evidence.

Whatever the backend, two articles whose leads name different days for their event are
discounted by the gap: ``1 / (1 + DAY_GAP_PENALTY * gap_days)``. Two meetings of the same
people on consecutive days are two stories; articles with no known day are not discounted.
When a day is only the publication date (``stated`` false), it says much less: outlets cover
one event over days (time zones, follow-ups, a wire item translated the next week), so the
gap counts only past ``PUBLICATION_SLACK_DAYS`` and gently (``PUBLICATION_GAP_PENALTY`` a
day), enough to keep apart the same subject months apart. Measured on short items in 44
languages (docs/evaluation.md, "One scale"): a stated-day penalty on publication dates cut
the grouped story pairs by two thirds.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from dedup.columns import strings_of

Array = np.ndarray

DAY_GAP_PENALTY = 2.0
PUBLICATION_SLACK_DAYS = 5
PUBLICATION_GAP_PENALTY = 0.1
DAYS_IN_YEAR = 366
CENTRING_PRIOR = 10.0
# Pairs of texts both shorter than this get their dense evidence lifted (short_lift).
SHORT_CHARS = 400


#: Rows :func:`centre_by_language` reads and scales at a time.
CENTRE_ROWS = 1 << 16


def centre_by_language(
    vectors: Array,
    langs: Array,
    mean: Array | None = None,
    mean_short: Array | None = None,
    lengths: Array | None = None,
    *,
    overwrite: bool = False,
) -> Array:
    """Subtract each language's mean vector, shrunk towards the model's mean (``mean``, over
    many texts, when its calibration has one; else zero), then L2-normalise the rows. With
    ``mean_short`` and ``lengths``, an article's prior is the model's mean for a text of its
    length (:func:`length_prior`), averaged over each language's articles.

    Made :data:`CENTRE_ROWS` rows at a time beside the result: at 10^6 articles, the priors,
    each language's rows and the norms' squares for the whole corpus at once were gigabytes.
    Each language's sums are taken row after row, in the order numpy takes a mean over rows,
    so the vectors are those of the whole at once, to the bit. ``overwrite``: the caller has no
    further use for ``vectors``, and when they are float32, writable and contiguous they become
    the centred ones (the same bits as beside them): at 10^6 articles, 1 GB less."""
    n_rows, dim = vectors.shape
    in_place = (
        overwrite
        and vectors.dtype == np.float32
        and vectors.flags.writeable
        and vectors.flags.c_contiguous
    )
    out = vectors if in_place else np.empty((n_rows, dim), dtype=np.float32)
    per_article = mean is not None and mean_short is not None and lengths is not None
    codes = np.unique(langs).tolist()
    sums = {code: np.zeros(dim, dtype=np.float32) for code in codes}
    prior_sums = {code: np.zeros(dim, dtype=np.float32) for code in codes}
    counts = dict.fromkeys(codes, 0)
    for lo in range(0, n_rows, CENTRE_ROWS):
        block, block_langs = out[lo : lo + CENTRE_ROWS], langs[lo : lo + CENTRE_ROWS]
        if not in_place:
            block[:] = vectors[lo : lo + CENTRE_ROWS]
        priors = None
        if per_article:
            assert mean is not None and lengths is not None
            priors = length_prior(mean, mean_short, lengths[lo : lo + CENTRE_ROWS])
        for code in np.unique(block_langs).tolist():
            rows = block_langs == code
            counts[code] += int(np.count_nonzero(rows))
            sums[code] = _summed(sums[code], block[rows])
            if priors is not None:
                prior_sums[code] = _summed(prior_sums[code], priors[rows])
    shifts = {}
    for code, count in counts.items():
        n = float(count)
        shift = sums[code] / count * n
        if per_article:
            shift = shift + prior_sums[code] / count * CENTRING_PRIOR
        elif mean is not None:
            shift = shift + mean * CENTRING_PRIOR
        shifts[code] = shift / (n + CENTRING_PRIOR)
    for lo in range(0, n_rows, CENTRE_ROWS):
        block, block_langs = out[lo : lo + CENTRE_ROWS], langs[lo : lo + CENTRE_ROWS]
        for code in np.unique(block_langs).tolist():
            rows = block_langs == code
            block[rows] -= shifts[code]
        norms = np.linalg.norm(block, axis=1, keepdims=True)
        norms[norms == 0] = 1.0
        block /= norms
    return out


def _summed(total: Array, rows: Array) -> Array:
    """``total`` plus ``rows``, one row after another (numpy's order for a sum over rows)."""
    return np.asarray(np.add.reduce(np.vstack([total[None], rows]), axis=0), dtype=np.float32)


def centred_share(langs: Array) -> Array:
    """Per article, ``n / (n + CENTRING_PRIOR)`` for the ``n`` articles of its language (0 for
    an unknown language): how much of the mean it is centred by is the corpus's own."""
    counts = np.bincount(langs[langs >= 0], minlength=1)
    n = np.where(langs >= 0, counts[np.maximum(langs, 0)], 0).astype(np.float32)
    return np.asarray(n / (n + CENTRING_PRIOR), dtype=np.float32)


def length_prior(mean: Array, mean_short: Array | None, lengths: Array) -> Array:
    """Per article, the model's mean for a text of its length: the mean over articles, moved
    towards the mean over short texts as the article is short (:func:`shortness`). Short
    items share a direction of their own (a one-sentence blurb), which the articles' mean
    does not hold: in a small corpus of short items, unrelated ones then met at cosines of
    0.4 and more."""
    if mean_short is None:
        return mean
    short = shortness(lengths)[:, None]
    return np.asarray((1.0 - short) * mean + short * mean_short, dtype=np.float32)


def shortness(chars: Array) -> Array:
    """How short a pair is, from the characters of its longer text: 1 for empty texts, 0 from
    ``SHORT_CHARS`` on, linear between."""
    return np.clip(1.0 - np.asarray(chars, dtype=np.float32) / SHORT_CHARS, 0.0, 1.0)


def lift(short_lift: float, chars: Array, share: Array | None = None) -> Array:
    """How many times a pair's dense evidence counts: ``1 + short_lift x shortness(chars)``,
    ``chars`` its longer text's, the shortness times ``share`` (the pair's smaller
    :func:`centred_share`) when given. At an article's own length with no share: the most any
    of its pairs is lifted (a pair's longer text is at least as long; a long article's: 1)."""
    short = shortness(chars)
    if share is not None:
        short = short * share
    return 1.0 + short_lift * short


def day_factor(a: Array, b: Array, stated: Array | bool = True) -> Array:
    """Where both days are known, ``1 / (1 + DAY_GAP_PENALTY * gap)`` when both are ``stated``
    in the articles, else ``1 / (1 + PUBLICATION_GAP_PENALTY * max(gap -
    PUBLICATION_SLACK_DAYS, 0))``; 1 where a day is unknown."""
    if not ((a > 0).any() and (b > 0).any()):  # no pair has both days: skip the n x m work
        return np.broadcast_to(np.float32(1.0), np.broadcast_shapes(np.shape(a), np.shape(b)))
    gap = np.abs(a - b)
    gap = np.minimum(gap, DAYS_IN_YEAR - gap)  # December 31 and January 1 are one day apart
    published = PUBLICATION_GAP_PENALTY * np.maximum(gap - PUBLICATION_SLACK_DAYS, 0)
    penalty = np.where(stated, DAY_GAP_PENALTY * gap, published)
    known = (a > 0) & (b > 0)
    return np.where(known, 1.0 / (1.0 + penalty), 1.0).astype(np.float32)


def article_lengths(articles: Sequence[Any]) -> Array:
    """The characters of each article's title and text: what :func:`shortness` reads."""
    titles, texts = strings_of(articles, "title"), strings_of(articles, "text")
    return np.array(
        [len(a or "") + len(b or "") for a, b in zip(titles, texts, strict=True)], dtype=np.int32
    )


def language_names(langs: Sequence[str | None]) -> list[str]:
    """The language tags of :func:`language_codes`, tag ``k`` for code ``k``."""
    return sorted({lang for lang in langs if lang})


def language_codes(langs: Sequence[str | None]) -> Array:
    """Small ints for language tags (sorted, so the same corpus gives the same codes)."""
    code = {name: k for k, name in enumerate(language_names(langs))}
    return np.array([code[lang] if lang else -1 for lang in langs], dtype=np.int32)
