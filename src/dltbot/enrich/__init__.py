"""Paper cards and link health: what each entry's link is, and whether it still lives.

One module per source (arxiv, github, doi, page), one HTTP client (client), the status rules
(health) and the pass that ties them together (run). Enrichment has its own tables and
transactions (storage/cards.py) and never runs inside a sync.
"""

from .run import Enricher, EnrichReport

__all__ = ["EnrichReport", "Enricher"]
