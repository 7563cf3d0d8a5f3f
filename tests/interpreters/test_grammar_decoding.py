"""Grammar-constrained decoding on the real llama.cpp runtime, with tiny scripted Gemma 3 GGUFs."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from converters.examples import Example
from converters.functiongemma import START_RESPONSE, parse_calls
from converters.functiongemma_grammar import call_grammar, units
from interpreters.calibration import branch_points, fit, per_task
from interpreters.grammar_decoding import BranchPoint, next_token_probabilities
from interpreters.llamacpp import LlamaCppStudent
from interpreters.thresholds import Calibration, CalibrationError, Threshold, calibration_path
from tasks.score_edge.task import SCORE_EDGE
from tasks.select_symbols import SelectSymbols, SelectSymbolsTask
from teacher.handlers import interpret, perform
from teacher.model import request_for
from teacher.operations import Ask
from tests.interpreters.test_ollama import SELECT
from tests.tiny_gguf import write_tiny_gguf

WORDS = ["\n", "user", "model", "chatter", "{", "[", "]", "selected", "Order", "Money"]
#: a model that chatters instead of calling, and that closes every list it opens ("{" and "[" are also bytes)
CHATTER = {"\n": "chatter", "chatter": "chatter", "{": "selected", "<0x7B>": "selected", "[": "]", "<0x5B>": "]"}


@pytest.fixture
def chatty(tmp_path: Path) -> Path:
    return write_tiny_gguf(tmp_path / "tiny.gguf", WORDS, CHATTER)


async def test_the_grammar_turns_chatter_into_a_valid_call_mostly_forced(chatty: Path) -> None:
    free = LlamaCppStudent(chatty, grammar=False, max_tokens=12)
    reply = await free.complete(request_for(SelectSymbolsTask(), SELECT))
    assert reply.calls == () and reply.meta["stopped_at"] == "max_tokens"
    student = LlamaCppStudent(chatty, max_tokens=12)
    reply = await student.complete(request_for(SelectSymbolsTask(), SELECT))
    expected = f"<start_function_call>call:select_symbols{{selected:[]}}<end_function_call>{START_RESPONSE}"
    assert reply.raw == expected and reply.meta["stopped_at"] == START_RESPONSE
    # jump-forward: the model chose "{", "selected", "[" and "]" (the last token of each forced run is the model's,
    # as text after it could join it); the rest was forced and fed in batches
    assert reply.meta["sampled_tokens"] == 4 < reply.meta["completion_tokens"]
    async with interpret(student):
        assert await perform(Ask(SelectSymbolsTask(), SELECT)) == SelectSymbols(selected=[])


async def test_a_calibrated_threshold_beside_the_gguf_decides_the_branch(chatty: Path) -> None:
    Calibration({"select_symbols.selected": Threshold(option=0, threshold=1.01)}).save(calibration_path(chatty))
    student = LlamaCppStudent(chatty, max_tokens=24)
    assert student.thresholds == {"select_symbols.selected": (0, 1.01)}
    reply = await student.complete(request_for(SelectSymbolsTask(), SELECT))
    (call,) = reply.calls
    assert call.arguments["selected"] and set(call.arguments["selected"]) <= {"Order", "Money"}
    uncalibrated = LlamaCppStudent(chatty, max_tokens=24, calibrate=False)
    assert (await uncalibrated.complete(request_for(SelectSymbolsTask(), SELECT))).calls[0].arguments == {
        "selected": []}


def test_next_token_probabilities_read_the_branch(chatty: Path) -> None:
    llm = LlamaCppStudent(chatty)._model()
    probs = next_token_probabilities(llm, "<start_of_turn>model\n[", ["]", "[", "<escape>"])
    assert probs["]"] > 0.9 and probs["["] < 0.01 and probs["<escape>"] < 0.01
    after_newline = next_token_probabilities(llm, "<start_of_turn>model\n", ["]"])
    assert math.isclose(after_newline["]"], probs["["], rel_tol=1e-3)  # neither is scripted there
    with pytest.raises(ValueError, match="not one"):
        next_token_probabilities(llm, "x", ["chatter"])


def test_teacher_forcing_records_the_branch_points(chatty: Path) -> None:
    student = LlamaCppStudent(chatty)
    grammar = call_grammar([SelectSymbolsTask().tool(SELECT).openai()])
    answer = "<start_function_call>call:select_symbols{selected:[<escape>Money<escape>]}<end_function_call>" \
             + START_RESPONSE
    done = student.decoder().decode("<start_of_turn>model\n", grammar, forced_answer=answer)
    assert done.text == answer
    (point,) = [p for p in done.branches if p.label == "select_symbols.selected"]
    assert point.option == 0 and not point.taken and point.share > 0.9  # the model wanted "]"; the answer did not


def test_fit_keeps_a_threshold_only_where_it_beats_one_half(tmp_path: Path) -> None:
    # the empty list is the answer only when its share is above 0.8; the untuned model takes it from 0.5
    points = [BranchPoint("s.selected", 0, share, share > 0.8) for share in (0.55, 0.6, 0.65, 0.7, 0.75, 0.85, 0.9,
                                                                            0.95, 0.3, 0.2)]
    points += [BranchPoint("tool", 0, share, share >= 0.5) for share in (0.1, 0.9) * 5]
    points += [BranchPoint("args?", 0, share, False) for share in (0.6, 0.7, 0.8, 0.9) * 3]  # one side only
    calibration = fit(points)
    assert set(calibration.thresholds) == {"s.selected"}
    threshold = calibration.thresholds["s.selected"]
    assert 0.75 < threshold.threshold <= 0.85 and threshold.accuracy == 1.0 and threshold.accuracy_untuned == 0.5
    path = calibration.save(tmp_path / "m.calibration.json")
    assert Calibration.load(path) == calibration


def test_calibration_takes_the_first_examples_of_each_task() -> None:
    """A mixed eval file (one task's lines first) still gives every task's branch points: the limit is per task."""
    lines = [Example("p", "c", f"eval.jsonl:{i}", task) for i, task in
             enumerate(["score_edge"] * 5 + ["select_symbols"] * 3 + [None] * 2 + ["score_edge"])]
    kept = per_task(lines, 2)
    assert [e.where for e in kept] == ["eval.jsonl:0", "eval.jsonl:1", "eval.jsonl:5", "eval.jsonl:6",
                                       "eval.jsonl:8", "eval.jsonl:9"]
    assert per_task(lines, None) == lines


#: a score_edge line as the data writes it: the prompt declares no tools (the schema is in the weights)
EDGE_INPUT = {"query": "What uses Money?", "source_file": "shop.py", "source_line": 3, "source_hover": "class Money",
              "target_file": "cart.py", "target_line": 9, "target_hover": "total: Money", "edge_type": "reference"}
EDGE_ANSWER = {"relevance": 4, "risk": 2, "reasoning": "It uses Money.", "is_exhaustive": False,
               "is_type_family": False, "is_exported": True}


def test_calibration_decodes_a_line_without_declarations_under_its_task_s_tools(chatty: Path, tmp_path: Path) -> None:
    """score_edge prompts declare no tools; their branch points are still met (relevance and risk here: the tiny
    vocabulary spells ``true``/``false`` in bytes, so the flags' branch is not at a token boundary)."""
    line = {"messages": [{"role": "user", "content": "Score this edge"},
                         {"role": "assistant", "tool_calls": [{"id": "call_0", "type": "function", "function": {
                             "name": "score_edge", "arguments": json.dumps(EDGE_ANSWER)}}]}],
            "tools": "[]", "task": "score_edge", "input": json.dumps(EDGE_INPUT)}
    data = tmp_path / "eval.jsonl"
    data.write_text(json.dumps(line) + "\n", encoding="utf-8")
    labels = {point.label for point in branch_points(chatty, data)}
    assert {"score_edge.relevance", "score_edge.risk"} <= labels


def test_a_broken_calibration_file_names_the_file_and_field(tmp_path: Path, chatty: Path) -> None:
    path = calibration_path(chatty)
    path.write_text(json.dumps({"thresholds": {"tool": {"option": "x"}}}), encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"tiny\.calibration\.json: field 'thresholds.tool'"):
        LlamaCppStudent(chatty)
    path.write_text("[1", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"tiny\.calibration\.json: cannot be read"):
        Calibration.load(path)


def test_the_gbnf_export_drives_llama_cpp_s_own_grammar_sampler(chatty: Path) -> None:
    import llama_cpp

    grammar = call_grammar([SCORE_EDGE.openai()])
    llm = LlamaCppStudent(chatty)._model()
    sampler_grammar = llama_cpp.LlamaGrammar.from_string(grammar.gbnf(), verbose=False)
    tokens = []
    prompt = llm.tokenize(b"<start_of_turn>model\n", add_bos=False, special=True)
    for token in llm.generate(prompt, top_k=1, temp=0.0, grammar=sampler_grammar):
        tokens.append(token)
        if len(tokens) >= 40:
            break
    text = llm.detokenize(tokens, special=True).decode()
    assert text.startswith("<start_function_call>call:score_edge{")  # control tokens matched as tokens
    assert grammar.matcher().feed(units(text) or "\U000f0000") is not None  # a prefix of the matcher's language


def test_an_answer_out_of_tokens_is_closed_so_it_still_parses(chatty: Path) -> None:
    student = LlamaCppStudent(chatty, max_tokens=3)
    done = student.complete_text("<start_of_turn>model\n", call_grammar([SCORE_EDGE.openai()]))
    assert done.stopped_at == "max_tokens" and done.sampled_tokens == 3
    (call,) = parse_calls(done.text)
    SCORE_EDGE.validate(call.arguments)
