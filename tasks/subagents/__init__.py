"""The subagents (lint, test, docstring, sample_data): multi-turn tasks whose tools really run on a sandbox."""
