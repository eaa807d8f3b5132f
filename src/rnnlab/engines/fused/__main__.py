"""``python -m rnnlab.engines.fused``: build the fused engine's compiled kernels now (see :mod:`.cache`)."""

import sys

from rnnlab.engines.fused.cache import main

sys.exit(main(sys.argv[1:]))
