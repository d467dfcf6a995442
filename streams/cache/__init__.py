"""The semantic cache, without Kafka, Redis or HTTP: embedder, vector stores, near-miss guards and the core.

=================== ==========================================================================
module              holds
=================== ==========================================================================
``embedders``       the :class:`Embedder` protocol and the bundled all-MiniLM-L6-v2 in numpy
``wordpiece``       BERT's uncased WordPiece tokenizer for that model
``store``           the :class:`VectorStore` protocol and :class:`VectorHit`
``edge_store``      the embedded Qdrant engine (``qdrant-edge-py``), for one machine
``qdrant_store``    a Qdrant server through ``qdrant-client``
``guards``          the near-miss guards and :func:`check_pair`
``lexicon``         the word lists the guards use
``semantic``        :class:`CacheScope`, :class:`SemanticCache`, ``exact_key``, ``semantic_text``
``bench_lookup``    ``python -m streams.cache.bench_lookup``: lookup latency at 10k and 100k entries
``compare_embedders`` the figures behind ``EMBEDDERS.md``
=================== ==========================================================================

Each module is imported on its own (``qdrant_client`` is not loaded unless its store is used).
"""
