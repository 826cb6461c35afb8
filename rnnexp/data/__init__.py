"""The data layer: users' files and built-in datasets read, texts tokenized, prepared data cached,
batches drawn and padded. Nothing here imports torch; the tasks (rnnexp.tasks) turn arrays into tensors.

readers.py     users' CSV/TSV/JSONL files read as the standards define them, errors naming the line
tables.py      labelled texts (Table), the built-in text datasets, the train/val/test split
prepare.py     texts tokenized once, in one pass, into flat arrays (Tokens, TextColumn)
cache.py       the cache of prepared data: entries on disk, keyed by content, checked, evicted
prepared.py    any data file from the cache, or read (texts tokenized) and stored there; a run's splits
tokenizer.py   the tokenizer rule: how a text becomes words (exported with every text run)
preprocess.py  the fitted vocabulary and labels (Preprocessor): texts to padded ids
padding.py     the one padding and truncating rule
batches.py     which rows make each batch (pure functions of seed and epoch), bucketing, augmentation
series.py      numeric sequences and series: reading, windows, scaling
timestamps.py  a series' time column
embeddings.py  pretrained word vectors
"""

from __future__ import annotations

from .prepared import Events, Fifths, load_splits, read_table
from .preprocess import OOV, PAD, Preprocessor, class_counts, positive_index
from .tables import (
    UCI_FILES,
    Splits,
    Table,
    _amazon_food,
    data_dir,
    file_format,
    read_texts,
    split_three,
    stratified_indices,
    stratified_split,
)
from .tokenizer import OOV_ID, PAD_ID, remove_html, tokenize, tokenizer_rule

__all__ = [
    "Events",
    "Fifths",
    "OOV",
    "OOV_ID",
    "PAD",
    "PAD_ID",
    "UCI_FILES",
    "Preprocessor",
    "Splits",
    "Table",
    "_amazon_food",
    "class_counts",
    "data_dir",
    "file_format",
    "load_splits",
    "positive_index",
    "read_table",
    "read_texts",
    "remove_html",
    "split_three",
    "stratified_indices",
    "stratified_split",
    "tokenize",
    "tokenizer_rule",
]
