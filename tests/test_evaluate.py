"""Evaluation: metrics on hand-computed cases, loaders, and the runs through the pipeline."""

from __future__ import annotations

import csv
import itertools
import json
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dedup.config import Settings
from dedup.errors import DedupError, InputError
from dedup.evaluate import (
    Pair,
    evaluate_clusters,
    evaluate_pairs,
    load_labels,
    load_pairs,
    pair_similarities,
    plot_sweep,
    render_clusters_table,
    render_pairs_table,
    render_sweep_table,
    score_clusters,
    score_pairs,
    sweep_clusters,
    sweep_pairs,
)
from dedup.represent.encoder import Encoder

SAMPLES = Path(__file__).parent.parent / "samples"
ARTICLES = SAMPLES / "articles"
PAIR_KEYS = ["n", "pearson", "spearman", "auc", "threshold", "precision", "recall", "f1"]
CLUSTER_KEYS = [
    "n",
    "pairwise_precision",
    "pairwise_recall",
    "pairwise_f1",
    "bcubed_precision",
    "bcubed_recall",
    "bcubed_f1",
    "ari",
    "ami",
    "cross_language_recall",
    "backend",
    "model",
    "threshold",
    "stories",
    "warnings",
]

# --- cluster metrics ---------------------------------------------------------------------


def partition(*groups: str) -> dict[str, str]:
    """``partition("abc", "de")``: items a, b, c in story 0 and d, e in story 1."""
    return {item: str(k) for k, members in enumerate(groups) for item in members}


def no_langs(ids: str) -> dict[str, str | None]:
    return dict.fromkeys(ids)


def test_pairwise_scores_on_five_items() -> None:
    # gold {a,b,c} {d,e}: pairs ab ac bc de = 4.  predicted {a,b,c,d} {e}: C(4,2) = 6 pairs.
    # Both: ab ac bc = 3.  P = 3/6 = 0.5, R = 3/4 = 0.75, F1 = 2*0.5*0.75/1.25 = 0.6.
    scores = score_clusters(partition("abc", "de"), partition("abcd", "e"), no_langs("abcde"))
    assert scores.n == 5
    assert scores.pairwise_precision == pytest.approx(0.5)
    assert scores.pairwise_recall == pytest.approx(0.75)
    assert scores.pairwise_f1 == pytest.approx(0.6)


def test_bcubed_on_bagga_baldwin_example() -> None:
    # Bagga and Baldwin (1998): truth {1-5} {6,7} {8-12}.
    # Response A merges the two small-and-large stories: {1-5} {6-12}.
    #   precision = (5*5/5 + 2*2/7 + 5*5/7) / 12 = (5 + 29/7) / 12 = 64/84 = 16/21; recall = 1.
    # Response B merges the two big ones: {1-5, 8-12} {6,7}.
    #   precision = (10*5/10 + 2*2/2) / 12 = 7/12; recall = 1.
    truth = partition("abcde", "fg", "hijkl")
    response_a = score_clusters(truth, partition("abcde", "fghijkl"), no_langs("abcdefghijkl"))
    assert response_a.bcubed_precision == pytest.approx(16 / 21)
    assert response_a.bcubed_recall == pytest.approx(1.0)
    # F1 = 2 * 16/21 / (16/21 + 1) = 32/37
    assert response_a.bcubed_f1 == pytest.approx(32 / 37)
    response_b = score_clusters(truth, partition("abcdehijkl", "fg"), no_langs("abcdefghijkl"))
    assert response_b.bcubed_precision == pytest.approx(7 / 12)
    assert response_b.bcubed_recall == pytest.approx(1.0)
    # Splitting instead of merging swaps the roles: truth scored against response A.
    swapped = score_clusters(partition("abcde", "fghijkl"), truth, no_langs("abcdefghijkl"))
    assert swapped.bcubed_precision == pytest.approx(1.0)
    assert swapped.bcubed_recall == pytest.approx(16 / 21)


def test_identical_partitions_score_one_whatever_the_label_names() -> None:
    gold = partition("abc", "de", "f")
    predicted = {k: f"S{int(v) + 7}" for k, v in gold.items()}
    scores = score_clusters(gold, predicted, no_langs("abcdef"))
    assert scores.ari == pytest.approx(1.0)
    assert scores.ami == pytest.approx(1.0)
    assert scores.pairwise_f1 == pytest.approx(1.0)
    assert scores.bcubed_f1 == pytest.approx(1.0)


def test_pairwise_and_bcubed_match_brute_force_on_random_partitions() -> None:
    rng = np.random.default_rng(7)
    ids = [f"a{k}" for k in range(40)]
    for _ in range(20):
        gold = {i: str(rng.integers(0, 6)) for i in ids}
        pred = {i: str(rng.integers(0, 9)) for i in ids}
        pairs = list(itertools.combinations(ids, 2))
        together_gold = {p for p in pairs if gold[p[0]] == gold[p[1]]}
        together_pred = {p for p in pairs if pred[p[0]] == pred[p[1]]}
        tp = len(together_gold & together_pred)
        b3_p = np.mean(
            [
                sum(gold[j] == gold[i] for j in ids if pred[j] == pred[i])
                / sum(pred[j] == pred[i] for j in ids)
                for i in ids
            ]
        )
        scores = score_clusters(gold, pred, dict.fromkeys(ids))
        assert scores.pairwise_precision == pytest.approx(tp / len(together_pred))
        assert scores.pairwise_recall == pytest.approx(tp / len(together_gold))
        assert scores.bcubed_precision == pytest.approx(b3_p)


def test_cross_language_recall() -> None:
    # gold X = {a en, b vi, c en}: cross pairs a-b, b-c (a-c share a language) = 2.
    # gold Y = {d vi, e unknown}: a pair with an unknown language is not counted.
    # predicted {a,b} {c} {d,e}: a-b kept, b-c split -> 1/2.
    langs = {"a": "en", "b": "vi", "c": "en", "d": "vi", "e": None}
    scores = score_clusters(partition("abc", "de"), partition("ab", "c", "de"), langs)
    assert scores.cross_language_recall == pytest.approx(0.5)
    one_language = score_clusters(partition("ab"), partition("ab"), {"a": "en", "b": "en"})
    assert one_language.cross_language_recall is None


def test_scores_only_ids_in_both_and_needs_some() -> None:
    # "x" has no prediction and "y" no gold: both left out; the rest agree exactly.
    scores = score_clusters(
        {"a": "1", "b": "1", "x": "2"}, {"a": "S1", "b": "S1", "y": "S2"}, no_langs("abxy")
    )
    assert scores.n == 2
    assert scores.pairwise_f1 == pytest.approx(1.0)
    with pytest.raises(InputError, match="none of the 1 labelled ids"):
        score_clusters({"x": "1"}, {"a": "S1"}, no_langs("ax"))


def test_all_singletons_everywhere_is_perfect_not_undefined() -> None:
    # No gold pair and no predicted pair: nothing claimed, nothing missed.
    scores = score_clusters(partition("a", "b"), partition("a", "b"), no_langs("ab"))
    assert (scores.pairwise_precision, scores.pairwise_recall) == (1.0, 1.0)


# --- pair metrics -----------------------------------------------------------------------


def test_best_f1_threshold_on_six_pairs() -> None:
    # same story (overall <= 1.5):  T    F    T    T    F    F
    sims = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    overall = np.array([1.0, 2.0, 1.0, 1.3, 4.0, 3.0])
    # predict same when sim >= t; 3 positives:
    # t=0.9 P=1   R=1/3 F1=0.5 | t=0.8 P=1/2 R=1/3 F1=0.4 | t=0.7 P=2/3 R=2/3 F1=2/3
    # t=0.6 P=3/4 R=1   F1=6/7 | t=0.5 P=3/5 R=1   F1=0.75 | t=0.4 P=1/2 R=1 F1=2/3
    scores = score_pairs(sims, overall)
    assert scores.threshold == pytest.approx(0.6)
    assert scores.precision == pytest.approx(0.75)
    assert scores.recall == pytest.approx(1.0)
    assert scores.f1 == pytest.approx(6 / 7)
    # AUC: of the 3x3 (positive, negative) pairs, the positive ranks higher in all but
    # (0.7 vs 0.8) and (0.6 vs 0.8): 7/9.
    assert scores.auc == pytest.approx(7 / 9)
    assert scores.n == 6


def test_equal_f1_takes_the_higher_threshold() -> None:
    # T F F T: t=0.9 P=1 R=1/2 F1=2/3; t=0.6 P=2/4 R=1 F1=2/3 (0.8: 1/2, 0.7: 0.4).
    scores = score_pairs(np.array([0.9, 0.8, 0.7, 0.6]), np.array([1.0, 4.0, 4.0, 1.0]))
    assert scores.f1 == pytest.approx(2 / 3)
    assert scores.threshold == pytest.approx(0.9)


def test_correlations_are_against_minus_overall() -> None:
    # Higher similarity for lower (more similar) grades: a positive correlation.
    scores = score_pairs(np.array([0.9, 0.5, 0.1]), np.array([1.0, 2.0, 4.0]))
    assert scores.pearson is not None and scores.pearson > 0.9
    assert scores.spearman == pytest.approx(1.0)
    reverse = score_pairs(np.array([0.1, 0.5, 0.9]), np.array([1.0, 2.0, 4.0]))
    assert reverse.spearman == pytest.approx(-1.0)


def test_degenerate_inputs_give_none_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        one = score_pairs(np.array([0.5]), np.array([1.0]))
        constant = score_pairs(np.array([0.3, 0.3, 0.3]), np.array([1.0, 2.0, 4.0]))
        no_positive = score_pairs(np.array([0.9, 0.1]), np.array([3.0, 4.0]))
        empty = score_pairs(np.array([]), np.array([]))
    assert (one.pearson, one.spearman, one.auc) == (None, None, None)
    assert (constant.pearson, constant.spearman) == (None, None)
    assert constant.auc == pytest.approx(0.5)
    assert no_positive.auc is None
    assert no_positive.threshold is None and no_positive.f1 is None
    assert no_positive.pearson == pytest.approx(1.0)
    assert empty.n == 0 and empty.pearson is None and empty.threshold is None


def test_sweep_pairs() -> None:
    sims = np.array([0.9, 0.8, 0.7, 0.6, 0.5, 0.4])
    overall = np.array([1.0, 2.0, 1.0, 1.3, 4.0, 3.0])
    rows = sweep_pairs(sims, overall, [0.6, 0.95])
    # t=0.6 as above; t=0.95: nothing predicted, precision 1 by convention, recall 0.
    assert rows[0] == pytest.approx(
        {"threshold": 0.6, "precision": 0.75, "recall": 1.0, "f1": 6 / 7}
    )
    assert rows[1] == {"threshold": 0.95, "precision": 1.0, "recall": 0.0, "f1": 0.0}


# --- loaders ----------------------------------------------------------------------------


PAIR_ROWS = [
    {
        "pair_id": "p1",
        "lang1": "en",
        "lang2": "en",
        "text1": "Storm hits Hanoi  Heavy rain.",
        "text2": "Hanoi storm  Rain floods streets.",
        "overall": 1.0,
        "dims": {"Time": 1.0},
    },
    {
        "pair_id": "p2",
        "lang1": "de",
        "lang2": "en",
        "text1": "Wahl in Berlin",
        "text2": "Football final in Madrid",
        "overall": 4.0,
    },
]


def write_jsonl(path: Path, rows: list[dict[str, object]]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_load_pairs_jsonl_and_csv(tmp_path: Path) -> None:
    from_jsonl = load_pairs(write_jsonl(tmp_path / "pairs.jsonl", PAIR_ROWS))
    csv_path = tmp_path / "pairs.csv"
    with csv_path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, ["pair_id", "lang1", "lang2", "text1", "text2", "overall"])
        writer.writeheader()
        for row in PAIR_ROWS:
            writer.writerow({k: v for k, v in row.items() if k != "dims"})
    from_csv = load_pairs(csv_path)
    expected = [
        Pair(
            "p1",
            "Storm hits Hanoi  Heavy rain.",
            "Hanoi storm  Rain floods streets.",
            "en",
            "en",
            1.0,
        ),
        Pair("p2", "Wahl in Berlin", "Football final in Madrid", "de", "en", 4.0),
    ]
    assert from_jsonl == expected
    assert from_csv == expected


def test_load_pairs_optional_titles_and_languages(tmp_path: Path) -> None:
    path = write_jsonl(
        tmp_path / "p.jsonl",
        [
            {"id": "x", "text1": "a", "text2": "b", "overall": "2", "title1": " T1 ", "lang2": ""},
        ],
    )
    assert load_pairs(path) == [Pair("x", "a", "b", None, None, 2.0, "T1", "")]


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": "y", "overall": 1}\n{oops\n',
            r"p\.jsonl:2: not valid JSON",
        ),
        ("p.jsonl", '{"pair_id": "a", "text1": "x", "overall": 1}\n', r"p\.jsonl:1: missing text2"),
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": "y", "overall": "high"}\n',
            r"p\.jsonl:1: overall must be a number, got 'high'",
        ),
        ("p.jsonl", "[1, 2]\n", r"p\.jsonl:1: expected a JSON object"),
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": "y", "overall": 1}\n' * 2,
            r"p\.jsonl:2: pair_id 'a' appears twice",
        ),
        ("p.jsonl", "\n", r"no pairs in"),
        ("p.csv", "pair_id,text1,text2\na,x,y\n", r"p\.csv: missing column overall$"),
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": "y", "overall": 1}\n'
            '{"pair_id": "b", "text1": ["x"], "text2": "y", "overall": 1}\n',
            r"p\.jsonl:2: text1 must be a string, got a list$",
        ),
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": {"t": "y"}, "overall": 1}\n',
            r"p\.jsonl:1: text2 must be a string, got an object$",
        ),
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": "y", "lang1": 7, "overall": 1}\n',
            r"p\.jsonl:1: lang1 must be a string, got a number$",
        ),
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": "y", "title2": false, "overall": 1}\n',
            r"p\.jsonl:1: title2 must be a string, got true or false$",
        ),
        (
            "p.jsonl",
            '{"pair_id": ["a"], "text1": "x", "text2": "y", "overall": 1}\n',
            r"p\.jsonl:1: pair_id must be a string, got a list$",
        ),
        (
            "p.jsonl",
            '{"pair_id": "a", "text1": "x", "text2": "y", "overall": true}\n',
            r"p\.jsonl:1: overall must be a number, got True",
        ),
        (
            "p.csv",
            'pair_id,text1,text2,overall\na,x,y,1\nb,"x,y,2\nc,x,y,3\n',
            r"p\.csv:3: bad CSV: a quote opened in this row is never closed$",
        ),
        (
            "p.csv",
            "pair_id,text1,text2,overall\na,x,y,1\nb,x,y,\n",
            r"p\.csv:3: overall must be a number",
        ),
    ],
)
def test_load_pairs_rejects_bad_input(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message) as info:
        load_pairs(path)
    assert "\n" not in str(info.value)


def test_load_pairs_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"pairs file not found: .*nope\.jsonl"):
        load_pairs(tmp_path / "nope.jsonl")


def test_load_labels_formats(tmp_path: Path) -> None:
    expected = {"a.txt": "A", "b.txt": "A", "c.txt": "B"}
    assert load_labels(SAMPLES / "labels.csv")["000_f774f4f1cbedfdc2.txt"] == "A"
    as_json = tmp_path / "l.json"
    as_json.write_text(json.dumps(expected), encoding="utf-8")
    as_jsonl = write_jsonl(
        tmp_path / "l.jsonl", [{"id": k, "story": v} for k, v in expected.items()]
    )
    as_csv = tmp_path / "l.csv"
    as_csv.write_text("id,story\na.txt,A\nb.txt,A\nc.txt,B\nd.txt,\n", encoding="utf-8")
    assert load_labels(as_json) == expected
    assert load_labels(as_jsonl) == expected
    assert load_labels(as_csv) == expected  # d.txt has no story: not labelled
    # Numbers are ids and story names too; a quoted field may still span lines.
    write_jsonl(as_jsonl, [{"id": 7, "story": 1}])
    assert load_labels(as_jsonl) == {"7": "1"}
    as_csv.write_text('id,story\na.txt,"A\nstory"\nb.txt,B\n', encoding="utf-8")
    assert load_labels(as_csv) == {"a.txt": "A\nstory", "b.txt": "B"}


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("l.csv", "id,label\na,A\n", r"l\.csv: missing column story"),
        ("l.csv", "id,story\na,A\na,B\n", r"l\.csv:3: id 'a' has two stories, 'A' and 'B'"),
        ("l.json", '["a", "b"]', r"expected a JSON object of id -> story"),
        ("l.json", "{", r"not a JSON object"),
        ("l.jsonl", '{"id": "a"}\n', r"l\.jsonl:1: missing story"),
        ("l.txt", "a A\n", r"labels file must be \.csv, \.json or \.jsonl"),
        ("l.csv", "id,story\n", r"no labels in"),
        (
            "l.csv",
            'id,story\na,A\nb,"A\nc,B\nd,B\n',
            r"l\.csv:3: bad CSV: a quote opened in this row is never closed$",
        ),
        ("l.csv", 'id,story\na,"A"x\n', r"l\.csv:2: bad CSV: ',' expected after"),
        ("l.jsonl", '{"id": "a", "story": ["A"]}\n', r"l\.jsonl:1: story must be a string"),
    ],
)
def test_load_labels_rejects_bad_input(
    tmp_path: Path, name: str, content: str, message: str
) -> None:
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=message):
        load_labels(path)


# --- through the pipeline -----------------------------------------------------------------


def lexical(threshold: float | None = None) -> Settings:
    return Settings(backend="lexical", threshold=threshold)


HANOI = (
    "Typhoon Yagi hits Hanoi",
    "Typhoon Yagi struck Hanoi on Saturday, flooding the Red "
    "River banks; Vietnam's government evacuated 50,000 people from Hanoi districts.",
)
HANOI_DE = (
    "Taifun Yagi trifft Hanoi",
    "Der Taifun Yagi traf am Samstag Hanoi; Vietnam "
    "evakuierte 50.000 Menschen aus den Bezirken von Hanoi am Roten Fluss.",
)
MADRID = (
    "Real Madrid wins the final",
    "Real Madrid beat Borussia Dortmund 2-0 at Wembley to "
    "win the Champions League final; Vinicius Junior scored late.",
)


def tiny_pairs(tmp_path: Path) -> Path:
    def text(article: tuple[str, str]) -> str:
        return f"{article[0]}  {article[1]}"

    return write_jsonl(
        tmp_path / "pairs.jsonl",
        [
            {
                "pair_id": "same",
                "lang1": "en",
                "lang2": "en",
                "text1": text(HANOI),
                "text2": text(HANOI),
                "overall": 1.0,
            },
            {
                "pair_id": "cross",
                "lang1": "de",
                "lang2": "en",
                "text1": text(HANOI_DE),
                "text2": text(HANOI),
                "overall": 1.5,
            },
            {
                "pair_id": "far",
                "lang1": "en",
                "lang2": "en",
                "text1": text(HANOI),
                "text2": text(MADRID),
                "overall": 4.0,
            },
            {
                "pair_id": "far2",
                "lang1": "de",
                "lang2": "en",
                "text1": text(HANOI_DE),
                "text2": text(MADRID),
                "overall": 3.5,
            },
        ],
    )


def test_pair_similarities_in_pair_order(tmp_path: Path) -> None:
    pairs = load_pairs(tiny_pairs(tmp_path))
    sims, backend, model, notes = pair_similarities(pairs, lexical())
    assert (backend, model, notes) == ("lexical", None, [])
    assert sims.shape == (4,)
    assert sims[0] == pytest.approx(1.0, abs=1e-5)  # the same text twice
    assert sims[1] > sims[3]  # German Hanoi is nearer English Hanoi than Madrid
    assert sims[0] > sims[2]
    # Pair order, not corpus order: reversing the pairs reverses the similarities.
    again, *_ = pair_similarities(pairs[::-1], lexical())
    assert again == pytest.approx(sims[::-1], abs=1e-6)


def test_pair_similarities_with_an_encoder(tmp_path: Path, fake_encoder: Encoder) -> None:
    pairs = load_pairs(tiny_pairs(tmp_path))
    settings = Settings(backend="dense")
    sims, backend, model, _ = pair_similarities(pairs, settings, encoder=fake_encoder)
    assert (backend, model) == ("dense", "fake-hash-64")
    assert sims[0] == pytest.approx(1.0, abs=1e-5)


def test_evaluate_pairs_keys(tmp_path: Path) -> None:
    result = evaluate_pairs(load_pairs(tiny_pairs(tmp_path)), lexical())
    assert list(result) == [*PAIR_KEYS, "by_language_pair", "backend", "model", "warnings"]
    assert list(result["by_language_pair"]) == ["de-en", "en-en"]
    for scores in result["by_language_pair"].values():
        assert list(scores) == PAIR_KEYS
        assert scores["n"] == 2
    assert result["n"] == 4
    assert (result["backend"], result["model"], result["warnings"]) == ("lexical", None, [])
    # Same story pairs outrank the others here: a perfect AUC, rounded to 4 places.
    assert result["auc"] == 1.0
    assert result["threshold"] == round(result["threshold"], 4)
    json.dumps(result)  # plain JSON types only
    table = render_pairs_table(result)
    assert table.splitlines()[0].split() == [
        "pair",
        "n",
        "pearson",
        "spearman",
        "auc",
        "threshold",
        "P",
        "R",
        "F1",
    ]
    assert [line.split()[0] for line in table.splitlines()[1:4]] == ["all", "de-en", "en-en"]


def test_evaluate_clusters_on_samples() -> None:
    report, result = evaluate_clusters(
        [str(ARTICLES)], lexical(), labels=load_labels(SAMPLES / "labels.csv")
    )
    assert list(result) == CLUSTER_KEYS
    assert result["n"] == 5
    assert result["backend"] == "lexical"
    assert result["stories"] == len(report.stories)
    assert result["threshold"] == report.run.threshold
    assert "pairwise" in render_clusters_table(result)


def test_evaluate_clusters_reads_story_fields(tmp_path: Path) -> None:
    corpus = write_jsonl(
        tmp_path / "corpus.jsonl",
        [
            {"id": "h1", "title": HANOI[0], "text": HANOI[1], "lang": "en", "story": "hanoi"},
            {"id": "h2", "title": HANOI_DE[0], "text": HANOI_DE[1], "lang": "de", "story": "hanoi"},
            {"id": "m1", "title": MADRID[0], "text": MADRID[1], "lang": "en", "story": "madrid"},
        ],
    )
    # At threshold -1 every article joins one story; against gold {h1,h2} {m1}:
    # pairs predicted 3, gold 1, both 1 -> P 1/3, R 1; the cross pair h1-h2 is found.
    _, result = evaluate_clusters([str(corpus)], lexical(threshold=-1.0), labels=None)
    assert result["stories"] == 1
    assert result["pairwise_precision"] == pytest.approx(0.3333)
    assert result["pairwise_recall"] == 1.0
    assert result["cross_language_recall"] == 1.0
    assert result["warnings"] == []


def test_evaluate_clusters_needs_labels(tmp_path: Path) -> None:
    corpus = write_jsonl(tmp_path / "corpus.jsonl", [{"id": "a", "text": HANOI[1]}])
    with pytest.raises(InputError, match="no gold stories"):
        evaluate_clusters([str(corpus)], lexical(), labels=None)


def test_sweep_clusters_agrees_with_a_run_at_each_threshold() -> None:
    labels = load_labels(SAMPLES / "labels.csv")
    thresholds = [-1.0, 0.1, 0.2, 0.4, 1.0]
    rows = sweep_clusters([str(ARTICLES)], lexical(), labels, thresholds)
    assert [r["threshold"] for r in rows] == thresholds
    # -1: one story of 5 (gold pairs 2 of C(5,2)=10); 1.0: five singletons (no pair claimed).
    assert (rows[0]["stories"], rows[0]["recall"], rows[0]["precision"]) == (1, 1.0, 0.2)
    assert (rows[-1]["stories"], rows[-1]["recall"], rows[-1]["precision"]) == (5, 0.0, 1.0)
    for row in rows[1:4]:
        _, single = evaluate_clusters(
            [str(ARTICLES)], lexical(threshold=row["threshold"]), labels=labels
        )
        assert single["stories"] == row["stories"]
        assert single["pairwise_f1"] == pytest.approx(row["f1"], abs=1e-4)
        assert single["ari"] == pytest.approx(row["ari"], abs=1e-4)
    table = render_sweep_table(rows)
    assert table.splitlines()[0].split()[:4] == ["threshold", "precision", "recall", "f1"]
    assert len(table.splitlines()) == 1 + len(thresholds)


def test_sweep_clusters_rejects_bad_thresholds() -> None:
    with pytest.raises(InputError, match="between -1 and 1"):
        sweep_clusters([str(ARTICLES)], lexical(), None, [0.5, 1.5])


# --- rendering and plots ----------------------------------------------------------------


def test_render_pairs_table_exact() -> None:
    values: list[float | None] = [2, 0.5, None, 1.0, 0.25, 1.0, 0.5, 0.6667]
    scores = dict(zip(PAIR_KEYS, values, strict=True))
    result: dict[str, Any] = {
        **scores,
        "by_language_pair": {"en-en": {**scores, "n": 1}, "de-en": {**scores, "n": 1}},
        "backend": "hybrid",
        "model": "m",
        "warnings": [],
    }
    assert render_pairs_table(result) == (
        "pair   n  pearson  spearman     auc  threshold       P       R      F1\n"
        "all    2   0.5000         -  1.0000     0.2500  1.0000  0.5000  0.6667\n"
        "de-en  1   0.5000         -  1.0000     0.2500  1.0000  0.5000  0.6667\n"
        "en-en  1   0.5000         -  1.0000     0.2500  1.0000  0.5000  0.6667\n"
        "\n"
        "backend: hybrid, model: m"
    )


SWEEP = [
    {"threshold": 0.2, "precision": 0.5, "recall": 1.0, "f1": 2 / 3},
    {"threshold": 0.1, "precision": 0.25, "recall": 1.0, "f1": 0.4},
    {"threshold": 0.3, "precision": 1.0, "recall": 0.5, "f1": 2 / 3},
]


def test_plot_sweep_png_and_svg(tmp_path: Path) -> None:
    pytest.importorskip("matplotlib")
    png, svg = tmp_path / "sweep.png", tmp_path / "sweep.SVG"
    plot_sweep(SWEEP, png, title="pairs")
    plot_sweep(SWEEP, svg, title="pairs")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "<svg" in svg.read_text(encoding="utf-8")[:1000]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sweep.SVG", "sweep.png"]  # no temp


def test_plot_sweep_rejects_other_formats(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"plot must be \.png or \.svg, got sweep\.pdf"):
        plot_sweep(SWEEP, tmp_path / "sweep.pdf", title="x")


def test_plot_sweep_without_matplotlib(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    with pytest.raises(DedupError, match=r"plots need matplotlib: pip install 'dedup\[plot\]'"):
        plot_sweep(SWEEP, tmp_path / "sweep.png", title="x")
    assert not (tmp_path / "sweep.png").exists()
