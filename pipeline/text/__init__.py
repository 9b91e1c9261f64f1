"""Text: files → decoded text → kept lines → sentences and chunks; the lexical terms and near-duplicate
signatures of a text.

``sources`` (paths → decoded text, or a reason to skip) → ``cleaning`` (boilerplate marked, title,
date, language) → ``chunking`` (sentences, chunks, windows); ``reading`` runs these for one file
under a time budget; ``lexical`` (stemmed, folded terms) and ``dedup`` (MinHash) describe a text.
Nothing here knows about vectors or the index.
"""
