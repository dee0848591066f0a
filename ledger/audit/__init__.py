"""Circularity claims audited against the chain: history replay, figures, reports."""
