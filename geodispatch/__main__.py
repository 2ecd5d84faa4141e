"""``python -m geodispatch``: the command-line interface (same as the ``geodispatch`` script)."""

from geodispatch.cli import main

if __name__ == "__main__":
    main()
