"""``python -m lge [ARGS]``: the command line (main.py's), e.g. ``python -m lge RUN.h5`` opens the window."""
import sys


def main() -> int:
    from app.cli import main as cli_main  # lge.app.cli in the wheel (setup.py rewrites it)

    return cli_main()


if __name__ == "__main__":
    sys.exit(main())
