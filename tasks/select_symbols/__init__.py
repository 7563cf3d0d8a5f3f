"""The select_symbols task: which candidates around a symbol matter for a topic."""

from tasks.select_symbols.task import (
    HUB_THRESHOLD,
    Candidates,
    SelectSymbols,
    SelectSymbolsInput,
    SelectSymbolsTask,
)

__all__ = ["HUB_THRESHOLD", "Candidates", "SelectSymbols", "SelectSymbolsInput", "SelectSymbolsTask"]
