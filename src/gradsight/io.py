"""gs.save / gs.load (in progress)."""


def save(mapping, path):
    raise NotImplementedError("gs.save is being written")


def load(path):
    raise NotImplementedError("gs.load is being written")
