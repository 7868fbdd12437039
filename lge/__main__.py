"""``python -m lge [ARGS]``: the command line (main.py's), e.g. ``python -m lge RUN.h5`` opens the window."""
import sys


def main() -> int:
    from app.cli import main as cli_main  # the rename makes this `from lge.app.cli import main`

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
