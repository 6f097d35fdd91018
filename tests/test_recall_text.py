"""The text rule of recall by similarity, from the notes (§5.4 "Similar") and the released code."""
import math

import pytest

from echo_stream.runtime.recall_text import STOP_WORDS, common_threshold, common_words, content_words, recall_texts


def test_words_are_lowercase_letters_and_apostrophes_longer_than_two():
    assert content_words("A Red-Fox's DEN, at 3am: it's 42 owls!") == ["red", "fox's", "den", "it's", "owls"]
    assert content_words("the fox and an ox go up") == ["fox"]  # stop words and words of <= 2 letters go
    assert content_words("café naïve") == ["caf"]  # non-ASCII letters split words: "caf", "na", "ve"


def test_the_released_stop_words_are_dropped_scene_words_included():
    assert {"static", "shot", "same", "back", "young", "wearing", "now", "seen"} <= STOP_WORDS
    assert content_words("static shot: the same young woman wearing a coat, seen from back") == ["woman", "coat"]


@pytest.mark.parametrize("n, threshold", [(1, 2), (2, 2), (3, 3), (4, 3), (5, 4), (6, 5), (10, 7), (20, 14)])
def test_common_means_in_at_least_max_2_and_ceil_0_7_n_prompts(n, threshold):
    assert common_threshold(n) == threshold == max(2, math.ceil(0.7 * n))


def test_a_word_counts_once_per_prompt():
    prompts = ["fox fox fox", "a river", "a hill", "a cave"]  # N=4: common = in >= 3 prompts
    assert common_words(prompts) == set()
    assert common_words(["red fox river", "red fox hill", "red cat cave", "blue sky"]) == {"red"}


def test_shared_words_are_dropped_and_the_rest_rejoined():
    prompts = ["A red fox runs through fresh snow.",
               "The red fox leaps into a frozen river!",
               "A red fox sleeps in its den; static shot",
               "A neon city street at night"]
    # N=4, threshold 3: "red" and "fox" (in 3 prompts) are common; "a"/"the"/"in"/"its"/"static"/"shot" stop words
    assert recall_texts(prompts) == ["runs through fresh snow", "leaps frozen river", "sleeps den",
                                     "neon city street night"]


def test_a_prompt_left_without_words_keeps_its_original_text():
    prompts = ["A red fox.", "The red fox!", "A red fox in snow"]  # N=3: "red", "fox" common
    assert recall_texts(prompts) == ["A red fox.", "The red fox!", "snow"]


def test_n_counts_every_prompt_of_the_script_repeats_included():
    # the same prompt twice (a recall of it) counts twice: with N=2 both its words are common, so both
    # prompts keep their text; with a third scene, N=3 needs 3 prompts
    assert recall_texts(["sunny beach", "sunny beach"]) == ["sunny beach", "sunny beach"]
    assert recall_texts(["sunny beach", "dark forest", "sunny beach"]) == ["sunny beach", "dark forest", "sunny beach"]
    assert common_words(["sunny beach", "dark forest", "sunny beach", "sunny hill"]) == {"sunny"}
