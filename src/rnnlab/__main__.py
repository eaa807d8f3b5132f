"""``python -m rnnlab`` runs the command line."""

from rnnlab.cli import main

if __name__ == "__main__":
    raise SystemExit(main())
