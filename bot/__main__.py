"""``python -m bot -c bot.yaml``: config → logging → run until SIGINT/SIGTERM."""

from __future__ import annotations

import argparse
import asyncio
import logging
import signal
import sys
from collections.abc import Sequence

from bot.bot import Bot
from bot.config import BotConfig, load_config
from bot.errors import BotError, ConfigError

logger = logging.getLogger("bot")

EXIT_OK = 0
EXIT_FATAL = 1
EXIT_CONFIG = 2


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bot", description="Qunzu companion bot")
    parser.add_argument("-c", "--config", default="bot.yaml", help="config file (bot.yaml)")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="log level (INFO)",
    )
    return parser.parse_args(argv)


def _setup_logging(level: str) -> None:
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    # nio logs every event at INFO and whole sync responses at DEBUG: noise,
    # and message texts are personal data.
    logging.getLogger("nio").setLevel(logging.WARNING)


async def _run(config: BotConfig) -> None:
    bot = Bot(config)
    loop = asyncio.get_running_loop()
    stoppers: set[asyncio.Task[None]] = set()

    def request_stop(signame: str) -> None:
        logger.info("%s received; stopping", signame)
        task = asyncio.create_task(bot.stop())
        stoppers.add(task)  # keep a reference until it finishes
        task.add_done_callback(stoppers.discard)

    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, request_stop, sig.name)
    try:
        await bot.run()
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)
        if stoppers:
            await asyncio.wait(stoppers)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the bot.

    Args:
        argv: Command-line arguments (default: ``sys.argv[1:]``).

    Returns:
        0 after a clean stop, 2 for bad configuration, 1 for other fatal errors.
    """
    args = _parse_args(argv)
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(f"qunzu-bot: bad configuration: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    _setup_logging(args.log_level)
    try:
        asyncio.run(_run(config))
    except BotError as exc:
        logger.error("fatal: %s", exc)
        return EXIT_FATAL
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
