"""``python -m streamdata.serve``: the ``streamdata-serve`` command line (:mod:`streamdata.serve.cli`)."""

import sys

from streamdata.serve.cli import main

if __name__ == "__main__":
    sys.exit(main())
