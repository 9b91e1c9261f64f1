"""Text: files → decoded text → kept lines → sentences and chunks; the lexical terms and near-duplicate
signatures of a text.

``sources`` (paths → decoded text, or a reason to skip; PDF through ``pdf``, Word, PowerPoint and
OpenDocument through ``office``, scans through ``ocr``, each into ``layout``'s text that keeps every
word's page and box) → ``cleaning`` (boilerplate marked, title,
date, language) → ``chunking`` (sentences, chunks, windows); ``reading`` runs these for one file
under a time budget; ``lexical`` (stemmed, folded terms) and ``dedup`` (MinHash) describe a text.
Nothing here knows about vectors or the index.
"""
