"""The generic steps every pipeline shares: normalise, filter, dedup, token counts, packing, writing."""
