"""What every command line of ours does around its work (`python -m seeding`, `python -m zava_ops`): warnings on
stderr, settings from the environment (and `.env`), secrets masked in every log line, and an expected failure
as one `error:` line with exit code 2, never a traceback."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable

from zava_core.errors import ZavaError
from zava_core.infra.config import ConfigError, Settings
from zava_core.infra.redaction import install_log_redaction


def run_with_settings(work: Callable[[Settings], int], *, interrupted: str = "interrupted") -> int:
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr, format="%(levelname)s %(name)s: %(message)s")
    try:
        settings = Settings.from_env()
        install_log_redaction(settings)
        return int(work(settings))
    except (ConfigError, ZavaError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(interrupted, file=sys.stderr)
        return 130
