"""The engine: Tensor, graph nodes, backward and grad mode. No math here."""
