"""Build the paper from results/: `python paper/build.py` (see dynint/paper/build.py).

Redraws each table's figures, writes paper/generated/ (number macros and tables) and, where LaTeX
is installed, compiles paper/main.tex into paper/dynint.pdf.
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the checkout's dynint, installed or not

from dynint.paper.build import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
