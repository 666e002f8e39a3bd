"""gs.optim: SGD and Adam (in progress)."""
