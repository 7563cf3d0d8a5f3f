"""Quickstart: run a task through the handler machinery and a FunctionGemma exchange, offline.

For each identifier the program performs ``Ask(naming_style, ...)``. The installed model is a stand-in
student: it renders the exact prompt FunctionGemma would read (``--profile``), writes its answer in the wire
format, and the codec parses that text back into a validated tool call. No API key, GPU or server is needed.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence

from converters.functiongemma import (
    DEVELOPER_PROMPT,
    PROFILES,
    Profile,
    completion_terminator,
    render_call,
    render_prompt,
    split_output,
)
from examples.naming_style import NamingInput, NamingStyleTask, guess_style
from interpreters.scripted import FunctionModel
from teacher.handlers import interpret, perform
from teacher.model import ModelReply, ModelRequest
from teacher.operations import Ask

DEFAULT_IDENTIFIERS = ("parse_calls", "renderPrompt", "FunctionGemmaFormatError", "MAX_DEPTH")


def offline_student(profile: Profile, show: bool) -> FunctionModel:
    """A stand-in student that answers in FunctionGemma text, which the codec then parses."""

    def answer(request: ModelRequest) -> ModelReply:
        nonlocal show
        tools = [tool.openai() for tool in request.tools]
        messages = [{"role": "developer", "content": DEVELOPER_PROMPT}, {"role": "user", "content": request.user}]
        prompt = render_prompt(messages, tools, profile=profile)
        assert isinstance(request.input, NamingInput)
        completion = render_call(
            tools[0]["function"]["name"], {"style": guess_style(request.input.identifier), "confidence": 0.9},
            profile=profile,
        ) + completion_terminator(profile)
        calls, text = split_output(completion)
        if show:
            print(f"--- prompt ({profile} profile) ---\n{prompt}--- completion ---\n{completion}")
            show = False
        return ModelReply(calls=tuple(calls), reasoning=text, raw=completion)

    return FunctionModel(answer)


async def run(identifiers: Sequence[str], profiles: Sequence[Profile], show_prompts: bool) -> int:
    """Classify each identifier under each profile and print the parsed, validated results."""
    task = NamingStyleTask()
    for profile in profiles:
        async with interpret(offline_student(profile, show_prompts)):
            for position, identifier in enumerate(identifiers, start=1):
                result = await perform(Ask(task, NamingInput(identifier=identifier)))
                print(f"[{profile} {position}/{len(identifiers)}] {identifier}: {json.dumps(result.model_dump())}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m examples.quickstart", description=__doc__.splitlines()[0])
    parser.add_argument("--identifier", action="append", help="identifier to classify (repeatable)")
    parser.add_argument("--profile", choices=[*PROFILES, "both"], default="both", help="FunctionGemma profile")
    parser.add_argument("--quiet", action="store_true", help="do not print the first prompt and completion")
    args = parser.parse_args(argv)
    profiles: list[Profile] = list(PROFILES) if args.profile == "both" else [args.profile]
    return asyncio.run(run(args.identifier or DEFAULT_IDENTIFIERS, profiles, not args.quiet))


if __name__ == "__main__":
    sys.exit(main())
