import sys

from zava_ops.cli import main

sys.exit(main())
