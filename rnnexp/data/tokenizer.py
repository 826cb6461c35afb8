"""The tokenizer rule: how a text becomes words (and, for code without rnnexp, a description of
every step from a text to padded ids, built from the same patterns).

Plain Python (re, html); data.Preprocessor maps the words to ids.
"""

from __future__ import annotations

import html
import re

PAD_ID, OOV_ID = 0, 1  # the ids of padding and of a word not in the vocabulary: vocab[0] and vocab[1]

_WORD = re.compile(r"\w+(?:'\w+)*")
_TAG = re.compile(r"</?[A-Za-z][^<>]*>")  # a tag starts with a letter: "<3" and "a < b" are text


def remove_html(text: str) -> str:
    """The text without its HTML: every tag (<br />, <p>, </a>) becomes a space, so "good.<br />Great"
    stays two words; then entities (&amp;, &quot;, &#39;) become their characters."""
    return html.unescape(_TAG.sub(" ", text))


def tokenize(text: str, lowercase: bool = True, strip_html: bool = False) -> list[str]:
    """Words and numbers; punctuation dropped, inner apostrophes kept (don't), as Keras' Tokenizer;
    with ``strip_html``, of the text without its HTML (remove_html)."""
    if strip_html:
        text = remove_html(text)
    return _WORD.findall(text.lower() if lowercase else text)


def tokenizer_rule() -> dict:
    """What tokenize and Preprocessor.encode_texts do, step by step, for code without rnnexp: written
    into preprocessing.json beside the keys the steps name (strip_html, lowercase, vocab, maxlen, ...)."""
    return {
        "steps": [
            "if strip_html: text = re.sub(html_tag_pattern, ' ', text), then text = html.unescape(text) (Python's html)",
            "if lowercase: text = text.lower()",
            "words = re.findall(word_pattern, text) (Python's re on str: \\w is any Unicode letter, digit or _)",
            "ids = each word's index in vocab, oov_id for a word not in vocab",
            "more than maxlen ids: truncating pre drops the first ones, post the last; fewer: padding pre puts "
            "pad_id before them, post after, up to maxlen",
        ],
        "html_tag_pattern": _TAG.pattern,
        "word_pattern": _WORD.pattern,
        "pad_id": PAD_ID,
        "oov_id": OOV_ID,
    }
