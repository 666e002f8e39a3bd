"""gs.nn: Modules, layers, activations, losses and initialisation (in progress)."""
