"""The offline teacher for cli_intent generation: requests and answers written from templates and the schema.

:class:`TemplateTeacher` is a :class:`ModelBackend` that answers ``GenerateBatchTask`` requests with no API
key. Requests are assembled from verb and noun synonyms, argument and flag phrases, politeness and casing
variations, and value pools; the answer follows from what was put in the request. Deterministic per
(seed, batch). Unknown CLIs work too: names and descriptions stand in for the synonym tables.
"""

from __future__ import annotations

import random
from typing import Any

from converters.functiongemma import ToolCall
from tasks.cli_intent.generation import NEGATIVE_KINDS, BatchInput
from tasks.cli_intent.schema import ArgSpec, CliSchema, CommandSpec, FlagSpec, SubcommandSpec
from teacher.model import ModelBackend, ModelReply, ModelRequest

__all__ = ["TemplateTeacher", "generate_items"]

VERBS: dict[str, tuple[str, ...]] = {
    "list": ("list", "show", "show me", "display", "get", "give me", "what are the"),
    "view": ("view", "show", "show me", "open", "display", "pull up", "let me see"),
    "create": ("create", "make", "open", "start", "file", "set up"),
    "checkout": ("check out", "checkout", "switch to", "get me on"),
    "merge": ("merge", "land", "go ahead and merge"),
    "close": ("close", "shut"),
    "reopen": ("reopen", "open again", "bring back"),
    "diff": ("show the diff of", "what changed in", "diff"),
    "status": ("status of", "what's the status of", "show the status of"),
    "review": ("review", "leave a review on"),
    "comment": ("comment on", "add a comment to", "leave a comment on", "reply on"),
    "ready": ("mark ready", "mark as ready for review", "undraft"),
    "checks": ("show the checks of", "did CI pass on", "check the CI status of"),
    "clone": ("clone", "download", "get a local copy of"),
    "fork": ("fork", "make a fork of"),
    "rerun": ("rerun", "retry", "run again", "restart"),
    "watch": ("watch", "follow", "keep an eye on"),
    "run": ("run", "trigger", "kick off", "start", "dispatch"),
}
NOUNS: dict[str, tuple[str, ...]] = {
    "pr": ("pull request", "PR", "pr"),
    "issue": ("issue", "ticket", "bug report"),
    "repo": ("repository", "repo"),
    "run": ("workflow run", "run", "CI run", "actions run"),
    "workflow": ("workflow", "action", "GitHub workflow"),
    "release": ("release",),
}
USERS = ("octocat", "alice", "bob-smith", "mona", "hubot", "jdoe", "priya", "chen-wei", "m-garcia", "kofi")
LABELS = ("bug", "enhancement", "documentation", "help wanted", "good first issue", "p1", "security", "ui")
BRANCHES = ("main", "develop", "release/2.0", "feature/login", "fix/typo-readme", "hotfix/crash", "feat/dark-mode",
            "chore/deps", "refactor/api", "staging")
TITLES = ("Fix login redirect loop", "Add dark mode toggle", "Update dependencies", "Crash when uploading big files",
          "Improve error messages", "Clarify install steps", "Speed up the test suite", "Remove unused imports",
          "Support SSO login", "Handle empty search results", "Bump version to 2.1", "Typo in README")
BODIES = ("LGTM", "Looks good to me, thanks!", "Can you add a test for this?", "Fixed in the latest commit",
          "This breaks on Windows", "Please rebase on main", "Works for me now", "Needs a changelog entry",
          "Duplicate of the older issue", "I can reproduce this on 2.3")
REPOS = ("cli/cli", "octocat/hello-world", "facebook/react", "acme/webapp", "torvalds/linux", "rust-lang/rust",
         "pallets/flask", "vercel/next.js", "acme/infra", "python/cpython")
OWNERS = ("acme", "octocat", "my-org", "jdoe", "platform-team", "openlab")
REPO_NAMES = ("webapp", "api-server", "dotfiles", "infra", "mobile-app", "docs", "payments", "cli-tools")
WORKFLOWS = ("ci.yml", "release.yml", "deploy.yml", "nightly.yml", "lint.yml", "build")
TAGS = ("v1.2.0", "v2.0.0", "v2.0.0-rc.1", "v0.9.3", "v3.1.4", "v1.0.0-beta")
DIRS = ("~/src/app", "work", "tmp/checkout", "projects/demo", "code")
NAMES = ("my-app", "dotfiles", "api-server", "blog", "toolkit", "playground", "homelab")
DESCRIPTIONS = ("A small web app", "My personal config files", "Experiments with Rust", "Internal tooling")
OFF_TOPIC = (
    "what's the weather tomorrow", "write me a poem about cats", "how do I center a div", "book a flight to Paris",
    "what's 17 times 23", "restart my laptop", "play some music", "translate hello into French",
    "order a pizza", "what time is it in Tokyo", "set a timer for 10 minutes", "run docker compose up",
    "install react with npm", "list my kubernetes pods", "who won the game last night", "tell me a joke",
    "send an email to my boss", "how much RAM does my machine have", "convert this video to mp4",
    "what's the capital of Australia", "summarize this article", "clean up my downloads folder",
)
POLITE = ("", "", "", "please ", "can you ", "could you ", "I want to ", "I'd like to ", "hey, ", "go ahead and ",
          "I need to ", "let's ")
ENDINGS = ("", "", "", " please", " for me", " thanks", "?", " real quick", " now")

ARG_PHRASES: dict[str, tuple[str, ...]] = {
    "title": (' titled "{v}"', ' with the title "{v}"', ' called "{v}"'),
    "body": (' saying "{v}"', ' with the text "{v}"', ': "{v}"'),
    "comment": (' with the comment "{v}"', ' and say "{v}"'),
    "author": (" by {v}", " from {v}", " authored by {v}"),
    "assignee": (" assigned to {v}", " for {v}", " with assignee {v}"),
    "reviewer": (" and ask {v} to review", " with {v} as reviewer"),
    "label": (" labeled {v}", " with label {v}", " tagged {v}"),
    "base": (" against {v}", " into {v}", " targeting {v}"),
    "head": (" from branch {v}", " from {v}"),
    "branch": (" on {v}", " for branch {v}", " on the {v} branch"),
    "repository": (" {v}",),
    "directory": (" into {v}", " in the folder {v}"),
    "name": (" called {v}", " named {v}"),
    "description": (' described as "{v}"', ' with description "{v}"'),
    "workflow": (" {v}",),
    "ref": (" on {v}", " against ref {v}"),
    "tag": (" {v}", " for tag {v}"),
    "target": (" from {v}", " off {v}"),
    "limit": (" (limit {v})", ", just the first {v}", ", max {v}", " - only {v} of them"),
    "number": (" #{v}", " {v}", " number {v}", " no. {v}"),
    "run_id": (" {v}", " with id {v}", " #{v}"),
}
VALUE_POOLS: dict[str, tuple[str, ...]] = {
    "title": TITLES, "body": BODIES, "comment": BODIES, "author": USERS, "assignee": USERS, "reviewer": USERS,
    "label": LABELS, "base": BRANCHES, "head": BRANCHES, "branch": BRANCHES, "repository": REPOS,
    "directory": DIRS, "name": NAMES, "description": DESCRIPTIONS, "workflow": WORKFLOWS, "ref": BRANCHES,
    "tag": TAGS, "target": BRANCHES,
}
ENUM_PHRASES = (" with {n} {v}", ", {n} {v}", " ({n}: {v})")
FLAG_PHRASES: dict[str, tuple[str, ...]] = {
    "web": (" in the browser", " on the web", " in my browser"),
    "comments": (" with comments", " including the comments"),
    "squash": (" with squash", ", squash it", " squashing the commits"),
    "rebase": (" by rebasing", " with rebase"),
    "delete-branch": (" and delete the branch", ", delete the branch afterwards"),
    "fill": (" using the commit messages", " and autofill the title and body"),
    "force": (" and reset my local branch", " forcing it"),
    "auto": (" automatically when checks pass", " with auto-merge"),
    "name-only": (", only file names", " (just the file names)"),
    "log": (" with the full log", " and show the logs"),
    "log-failed": (" and show the logs of failed steps", ", failed logs only"),
    "failed": (" but only the failed jobs", ", just the failed jobs"),
    "clone": (" and clone it", " and clone it locally"),
    "all": (" including disabled ones", ", all of them"),
    "prerelease": (" as a prerelease", ", mark it prerelease"),
    "generate-notes": (" with generated notes", " and auto-generate the notes"),
    "watch": (" and watch until done", ", keep watching"),
    "required": (", required checks only", " (only the required ones)"),
    "undo": (" - actually, back to draft", ", undo it back to draft"),
    "conflict-status": (" with the merge conflict status", " including conflicts"),
}
SUBCOMMAND_FLAG_PHRASES: dict[tuple[str, str], tuple[str, ...]] = {
    ("list", "draft"): (" that are drafts", ", drafts only"),
    ("create", "draft"): (" as a draft", " (draft)"),
}
CONTEXT_PR = ("this PR", "this pull request", "my PR", "the current PR", "the PR for this branch")
CONTEXT_BRANCH = ("my branch", "this branch", "the current branch")
CONTEXT_REPO = ("this repo", "this repository", "the current repo")
CONFIRM = frozenset({"merge", "close", "delete", "rerun", "fork", "create"})


def _plural(noun: str) -> str:
    return noun if noun.endswith("s") else noun + "s"


def _nouns(command: CommandSpec) -> tuple[str, ...]:
    return NOUNS.get(command.name, (command.name.replace("-", " "),))


def _verbs(sub: SubcommandSpec) -> tuple[str, ...]:
    return VERBS.get(sub.name, (sub.name.replace("-", " "),))


def _value(arg: ArgSpec, rng: random.Random) -> str | int:
    if arg.type == "enum":
        return rng.choice(arg.values)
    if arg.type == "integer":
        if arg.name == "limit":
            return rng.choice((5, 10, 20, 25, 50, 100))
        if arg.name == "run_id":
            return rng.randint(1_000_000, 9_999_999)
        return rng.randint(1, 4000)
    return rng.choice(VALUE_POOLS.get(arg.name, NAMES))


def _arg_phrase(arg: ArgSpec, value: str | int, rng: random.Random) -> str:
    if arg.type == "enum":
        return rng.choice(ENUM_PHRASES).format(n=arg.name.replace("_", " "), v=value)
    templates = ARG_PHRASES.get(arg.name, (f' with {arg.name.replace("_", " ")} "{{v}}"',))
    return rng.choice(templates).format(v=value)


def _flag_phrase(sub: SubcommandSpec, flag: FlagSpec, rng: random.Random) -> str:
    phrases = SUBCOMMAND_FLAG_PHRASES.get((sub.name, flag.name)) or FLAG_PHRASES.get(flag.name)
    if phrases:
        return rng.choice(phrases)
    return rng.choice((f" and {flag.description.rstrip('.').lower()}", f" with --{flag.name}"))


def _shape(text: str, rng: random.Random, *, polite: bool = True) -> str:
    """Politeness, ending and casing variations around the core request (quoted values keep their case)."""
    text = (rng.choice(POLITE) if polite else "") + text + rng.choice(ENDINGS)
    style = rng.random()
    if style < 0.25:
        text = '"'.join(part if index % 2 else part.lower() for index, part in enumerate(text.split('"')))
    elif style < 0.75:
        text = text[:1].upper() + text[1:]
    return " ".join(text.split())


def random_context(rng: random.Random, *, with_pr: bool | None = None) -> dict[str, Any]:
    """A realistic git context: repository, branch, sometimes a PR and uncommitted changes."""
    branch = rng.choice(BRANCHES)
    context: dict[str, Any] = {"current_branch": branch, "repo_owner": rng.choice(OWNERS),
                               "repo_name": rng.choice(REPO_NAMES),
                               "has_uncommitted_changes": rng.random() < 0.4}
    has_pr = (branch not in ("main", "develop", "staging") and rng.random() < 0.8) if with_pr is None else with_pr
    if has_pr:
        context["current_pr"] = rng.randint(1, 4000)
    if rng.random() < 0.15:  # partial context
        del context[rng.choice(("repo_owner", "has_uncommitted_changes", "current_branch"))]
    return context


def _positive(
    schema: CliSchema, command: CommandSpec, sub: SubcommandSpec, context: dict[str, Any] | None, rng: random.Random
) -> dict[str, Any]:
    """A clear request for one subcommand and its run_command answer (values from the context when referred to)."""
    noun = rng.choice(_nouns(command))
    args: dict[str, str | int] = {}
    target = ""
    extras: list[str] = []
    used_context = False
    for arg in sub.args:
        from_context: tuple[str, str | int] | None = None
        if context:
            if arg.name == "number" and command.name == "pr" and context.get("current_pr"):
                from_context = (rng.choice(CONTEXT_PR), context["current_pr"])
            elif arg.name in ("head", "branch", "ref") and context.get("current_branch"):
                from_context = (" " + rng.choice(("from ", "on ", "for ")) + rng.choice(CONTEXT_BRANCH),
                                context["current_branch"])
            elif arg.name == "repository" and context.get("repo_owner") and context.get("repo_name"):
                from_context = (rng.choice(CONTEXT_REPO), f"{context['repo_owner']}/{context['repo_name']}")
        if from_context is not None and (arg.required or rng.random() < 0.5) and rng.random() < 0.8:
            phrase, value = from_context
            args[arg.name] = value
            used_context = True
            if arg.name in ("number", "repository"):
                target = " " + phrase
            else:
                extras.append(phrase)
            continue
        if arg.required or rng.random() < 0.35:
            value = _value(arg, rng)
            args[arg.name] = value
            phrase = _arg_phrase(arg, value, rng)
            if arg.name in ("number", "run_id", "repository", "workflow", "tag") and not target:
                target = phrase
            else:
                extras.append(phrase)
    flags = [f.name for f in sub.flags if rng.random() < 0.25]
    extras += [_flag_phrase(sub, f, rng) for f in sub.flags if f.name in flags]
    rng.shuffle(extras)
    verb = rng.choice(_verbs(sub))
    if sub.name in ("list", "status"):
        state = args.get("state")
        noun_phrase = f"{state} {_plural(noun)}" if isinstance(state, str) and state != "all" and rng.random() < 0.6 \
            else _plural(noun)
        if noun_phrase != _plural(noun):
            extras = [e for e in extras if "state" not in e]
        article = "" if verb.endswith(" the") else rng.choice(("", "the ", "my ", "all "))
        core = f"{verb} {article}{noun_phrase}{target}{''.join(extras)}"
    elif target.startswith(" this") or target.startswith(" my") or target.startswith(" the"):
        core = f"{verb}{target}{''.join(extras)}"
    else:
        core = f"{verb} {rng.choice(('', 'the ', 'a ')) if not target else ''}{noun}{target}{''.join(extras)}"
    if rng.random() < 0.1:  # terse, CLI-like
        core = f"{command.name} {sub.name}{target}{''.join(extras)}"
    confident = rng.uniform(0.75, 0.89) if sub.name in CONFIRM and rng.random() < 0.5 else rng.uniform(0.9, 0.99)
    answer = {"command": command.name, "subcommand": sub.name, "args": args, "flags": flags,
              "confidence": round(confident, 2)}
    return {"request": _shape(core, rng), "context": context, "kind": "context_used" if used_context else "",
            "tool": "run_command", "arguments": answer}


def _typo(word: str, rng: random.Random) -> str:
    if len(word) < 3:
        return word
    i = rng.randrange(len(word) - 1)
    edit = rng.randrange(3)
    if edit == 0:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    if edit == 1:
        return word[:i] + word[i + 1 :]
    return word[:i] + word[i] + word[i:]


def _negative(schema: CliSchema, kind: str, focus: str, rng: random.Random) -> dict[str, Any]:
    """A request that must be clarified, of one kind, with the clarification."""
    pairs = list(schema.pairs())
    command, sub = rng.choice(pairs)
    context = random_context(rng, with_pr=False) if rng.random() < 0.3 else None
    confidence = round(rng.uniform(0.3, 0.65), 2)
    noun = rng.choice(_nouns(command))
    if kind == "ambiguous":
        request = rng.choice((f"{noun} stuff", f"do something with {_plural(noun)}", f"{_plural(noun)}",
                              f"help me with my {_plural(noun)}", f"I need to deal with a {noun}",
                              f"{command.name}", f"something about {_plural(noun)}"))
        options = rng.sample(command.subcommands, min(4, len(command.subcommands)))
        suggestions = [f"{command.name} {s.name}" for s in command.subcommands if s in options]
        message = f"What do you want to do with {_plural(noun)}? For example: {', '.join(suggestions)}."
    elif kind == "incomplete":
        candidates = [(c, s) for c, s in pairs if any(a.required for a in s.args)]
        command, sub = rng.choice(candidates)
        noun = rng.choice(_nouns(command))
        missing = next(a for a in sub.args if a.required)
        article = rng.choice(("the ", "a ", "that ", "")) if missing.name != "number" or rng.random() < 0.5 else "it"
        request = f"{rng.choice(_verbs(sub))} {article}{noun if article != 'it' else ''}".strip()
        suggestions = [f"{command.name} {sub.name}"]
        needed = missing.description.lower()
        message = f"Which {missing.name.replace('_', ' ')}? {command.name} {sub.name} needs {needed}"
    elif kind == "off_topic":
        request = rng.choice(OFF_TOPIC)
        suggestions = []
        message = (f"That is not something {schema.cli_name} can do. I can help with "
                   f"{', '.join(c.name for c in schema.commands)}.")
        confidence = round(rng.uniform(0.02, 0.2), 2)
    elif kind == "multiple":
        shared = [name for name in schema.subcommand_names()
                  if sum(1 for c in schema.commands if c.subcommand(name)) > 1]
        name = rng.choice(shared) if shared else sub.name
        owners = [c for c in schema.commands if c.subcommand(name)]
        chosen = rng.sample(owners, min(3, len(owners)))
        sub_spec = chosen[0].subcommand(name)
        assert sub_spec is not None
        needs_number = any(a.type == "integer" and a.required for a in sub_spec.args)
        target = rng.choice((" #{n}", " {n}", " number {n}")).format(n=rng.randint(1, 4000)) if needs_number else ""
        request = f"{rng.choice(_verbs(sub_spec))}{target}" if target else rng.choice(
            (f"{rng.choice(_verbs(sub_spec))} everything", f"{rng.choice(_verbs(sub_spec))} them all",
             f"{rng.choice(_verbs(sub_spec))} one"))
        suggestions = [f"{c.name} {name}" for c in schema.commands if c in chosen]
        message = f"Do you mean {' or '.join(suggestions)}?"
    elif kind == "typo":
        core = f"{rng.choice(_verbs(sub))} {noun}"
        words = core.split()
        garbled = [_typo(_typo(w, rng), rng) if len(w) > 2 else w for w in words]
        if garbled == words:
            garbled = [w[::-1] for w in words]
        request = " ".join(garbled)
        suggestions = [f"{command.name} {sub.name}"]
        message = f"I could not read that. Did you mean {command.name} {sub.name}?"
    else:
        raise ValueError(f"unknown negative kind {kind!r}")
    request = _shape(request, rng, polite=kind in ("incomplete", "multiple")) if kind != "typo" else request
    return {"request": request, "context": context, "kind": kind, "tool": "clarify",
            "arguments": {"message": message, "suggestions": suggestions, "confidence": confidence}}


def generate_items(schema: CliSchema, batch: BatchInput) -> list[dict[str, Any]]:
    """``batch.count`` items of the batch's category, spread over its focus (subcommands or negative kinds)."""
    rng = random.Random(batch.seed * 1_000_003 + batch.batch)
    pairs = {f"{c.name} {s.name}": (c, s) for c, s in schema.pairs()}
    items = []
    for index in range(batch.count):
        if batch.category == "negative":
            kinds = [k for k in batch.focus if k in NEGATIVE_KINDS] or list(NEGATIVE_KINDS)
            items.append(_negative(schema, kinds[index % len(kinds)], "", rng))
            continue
        focus = [pairs[p] for p in batch.focus if p in pairs] or list(pairs.values())
        command, sub = focus[index % len(focus)]
        context = random_context(rng) if batch.category == "with_context" else None
        items.append(_positive(schema, command, sub, context, rng))
    return items


class TemplateTeacher(ModelBackend):
    """Answers ``GenerateBatchTask`` requests offline with :func:`generate_items` (one ``submit_examples`` call)."""

    def __init__(self, schema: CliSchema) -> None:
        self.schema = schema

    async def complete(self, request: ModelRequest) -> ModelReply:
        if not isinstance(request.input, BatchInput):
            raise ValueError(f"the template teacher only generates cli_intent batches, not {request.task_name!r}")
        items = generate_items(self.schema, request.input)
        call = ToolCall("submit_examples", {"examples": items})
        return ModelReply(calls=(call,), reasoning="Written from templates.",
                          raw={"backend": "templates", "call": {"name": call.name, "arguments": call.arguments}})
