"""Query: a question and an open index → ranked passages → a cited answer (or a reasoned refusal).

``dialogue`` (a follow-up searched with what it leans on) → ``retrieval`` (dense + BM25, fused,
near-duplicates collapsed) → ``answering`` (extractive: the sentences that answer, cited to the
character) or ``generation`` (an optional LLM, its claims checked by ``verification``; its
``prompts``). The stages read the index through the corpus they are given, never through the
``Index`` that called them.
"""
