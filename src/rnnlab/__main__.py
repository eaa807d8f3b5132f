"""``python -m rnnlab`` runs the command line."""

from rnnlab.cli import entry

if __name__ == "__main__":
    entry()
