"""The prompt text a scene is matched by when it is recalled by similarity (notes §5.4, "Similar").

The released Echo-Forcing code (mingqiangWu/Echo-Forcing @d0878fa, `pipeline/causal_inference.py`,
`_compute_recall_prompt_features`) does not compare the prompts as written. Over all N scene prompts
of the script it:
  1. lowercases each prompt and takes its words: a letter followed by letters or apostrophes
     (ASCII only; punctuation, digits and other characters split words), keeping words longer
     than 2 characters that are not in a short stop-word list;
  2. drops the "common" words, those found in at least max(2, ceil(0.7 N)) prompts (counted once
     per prompt);
  3. joins the words left with single spaces; a prompt with no word left keeps its original text.
That text is then encoded and its embedding mean-pooled and normalised (memory.scene_pool.prompt_feature).
Shared words ("a red fox ..." in every prompt) would otherwise raise every similarity alike, which
moves the recall jump and can change which scene is recalled.
"""
from __future__ import annotations

import re

# the released code's list, as it is (note the scene words "static", "shot", "same", "back", "young", ...)
STOP_WORDS = frozenset((
    "a", "an", "and", "are", "as", "at", "back", "be", "been", "before", "by", "for", "from", "has", "have",
    "he", "her", "his", "in", "into", "is", "it", "its", "of", "on", "or", "over", "same", "she", "shot",
    "static", "the", "their", "them", "this", "to", "under", "while", "with", "wearing", "young", "now", "seen",
))
WORD = re.compile(r"[a-z][a-z']+")  # applied to the lowercased prompt
MIN_LENGTH = 3
COMMON_SHARE = 0.7


def content_words(prompt: str) -> list[str]:
    """The prompt's words that can tell scenes apart, in order (repeats kept)."""
    return [w for w in WORD.findall(prompt.lower()) if len(w) >= MIN_LENGTH and w not in STOP_WORDS]


def common_threshold(num_prompts: int) -> int:
    """In how many prompts a word must appear to count as common: max(2, ceil(0.7 N)).

    Written as the released code computes it, int(0.7 N + 0.999), which equals the ceiling for any
    script length a person writes (it differs only where 0.7 N lies within 0.001 above an integer).
    """
    return max(2, int(max(1, num_prompts) * COMMON_SHARE + 0.999))


def common_words(prompts: list[str]) -> set[str]:
    counts: dict[str, int] = {}
    for prompt in prompts:
        for word in set(content_words(prompt)):
            counts[word] = counts.get(word, 0) + 1
    threshold = common_threshold(len(prompts))
    return {word for word, count in counts.items() if count >= threshold}


def recall_texts(prompts: list[str]) -> list[str]:
    """For each of the script's N prompts, the text to encode for its recall-by-similarity feature."""
    common = common_words(prompts)
    texts = []
    for prompt in prompts:
        kept = [w for w in content_words(prompt) if w not in common]
        texts.append(" ".join(kept) if kept else prompt)
    return texts
