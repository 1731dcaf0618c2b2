"""Measure dedup against labelled data: graded article pairs, or articles labelled by story.

Pairs (SemEval-2022 Task 8 style): each pair has an ``overall`` grade, 1 (same story) to 4
(unrelated). The task's official figure is the Pearson correlation of the similarity with
``-overall``; a pair is "same story" when ``overall <= 1.5``, which gives ROC-AUC and the
threshold with the best F1. Both articles of every pair go through the very stages of
``dedup cluster`` (clean, represent), so the corpus-level statistics are those of the file.

Stories: a corpus whose articles carry a gold story label is clustered as ``dedup cluster``
would cluster it and scored with pairwise precision/recall/F1 (Miranda et al. 2018), B-cubed
(Bagga and Baldwin 1998; Amigo et al. 2009), ARI, AMI and the recall of cross-language pairs.

The package: ``data`` reads the labelled pairs and stories, ``scores`` holds the metrics (and
their conventions), ``runs`` takes the data through dedup.pipeline and scores it, ``render``
makes the tables and the sweep's plot. This module is their public API.
"""

from dedup.evaluate.data import Pair, load_labels, load_pairs
from dedup.evaluate.render import (
    plot_sweep,
    render_clusters_table,
    render_pairs_table,
    render_sweep_table,
)
from dedup.evaluate.runs import (
    PairRepresentations,
    evaluate_clusters,
    evaluate_pairs,
    pair_similarities,
    represent_pairs,
    score_pair_file,
    sweep_clusters,
)
from dedup.evaluate.scores import (
    ClusterScores,
    PairScores,
    score_clusters,
    score_pairs,
    sweep_pairs,
)

__all__ = [
    "ClusterScores",
    "Pair",
    "PairRepresentations",
    "PairScores",
    "evaluate_clusters",
    "evaluate_pairs",
    "load_labels",
    "load_pairs",
    "pair_similarities",
    "plot_sweep",
    "render_clusters_table",
    "render_pairs_table",
    "render_sweep_table",
    "represent_pairs",
    "score_clusters",
    "score_pair_file",
    "score_pairs",
    "sweep_clusters",
    "sweep_pairs",
]
