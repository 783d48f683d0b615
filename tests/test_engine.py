"""The llama.cpp engine on the real small model: batches, KV copies, prefix reuse, rewind."""

from __future__ import annotations

import ctypes

import pytest

from thinkcli.engine import Sampling
from thinkcli.engine.batch import LlamaBatch
from thinkcli.errors import ContextOverflowError, ModelError

pytestmark = pytest.mark.model
GREEDY = Sampling(temperature=0.0)


@pytest.fixture(scope="module")
def engine(model_path):
    from thinkcli.engine.llama import LlamaEngine

    eng = LlamaEngine(model_path, name="smollm2-135m", ctx=2048, n_seq_max=4)
    yield eng
    eng.close()


def prompt_for(engine, text: str) -> str:
    return engine.render([{"role": "user", "content": text}])


def generate(batch, steps: int) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {s: [] for s in batch.live}
    for _ in range(steps):
        for token in batch.step():
            if token.eog:
                batch.stop(token.seq)
            else:
                out[token.seq].append(token.text)
        if not batch.live:
            break
    return out


def test_model_info(engine):
    assert engine.info.n_ctx == 2048 and engine.info.n_ctx_train == 8192
    assert "<|im_start|>" in engine.info.chat_template


def test_prompt_is_evaluated_once_and_copied_to_every_sequence(engine):
    batch = engine.start(prompt_for(engine, "Name three colors."), n=4, sampling=GREEDY, seeds=[1, 2, 3, 4])
    try:
        assert batch.prompt_eval_tokens <= batch.prompt_tokens
        texts = {s: "".join(pieces) for s, pieces in generate(batch, 24).items()}
    finally:
        batch.close()
    # Greedy from a copied KV cache: every sequence must say the same thing.
    assert len(set(texts.values())) == 1 and texts[0].strip()


def test_different_seeds_explore_different_paths(engine):
    sampling = Sampling(temperature=1.0, top_p=1.0, top_k=0)
    batch = engine.start(prompt_for(engine, "Write a random word."), n=4, sampling=sampling, seeds=[11, 12, 13, 14])
    try:
        texts = {"".join(p) for p in generate(batch, 16).values()}
    finally:
        batch.close()
    assert len(texts) > 1


def test_same_seed_same_text(engine):
    sampling = Sampling(temperature=0.9)

    def once() -> str:
        batch = engine.start(prompt_for(engine, "Tell me a fact."), n=1, sampling=sampling, seeds=[42])
        try:
            return "".join(generate(batch, 20)[0])
        finally:
            batch.close()

    assert once() == once()


def test_cached_prefix_is_reused(engine):
    first = prompt_for(engine, "What is the capital of France?")
    batch = engine.start(first, n=1, sampling=GREEDY, seeds=[0])
    batch.close()
    again = engine.start(first, n=1, sampling=GREEDY, seeds=[0])
    again.close()
    assert again.prompt_eval_tokens == 1  # only the last token, for fresh logits
    longer = engine.start(first + "Paris.<|im_end|>\n<|im_start|>user\nAnd Spain?<|im_end|>\n", n=1,
                          sampling=GREEDY, seeds=[0])
    longer.close()
    assert 1 < longer.prompt_eval_tokens < longer.prompt_tokens // 2


def test_a_follow_up_continues_the_path_it_repeats(engine):
    # Two sampled paths; the next prompt continues path 1's text, not sequence 0's.
    first = prompt_for(engine, "Name three animals.")
    batch = engine.start(first, n=2, sampling=Sampling(temperature=1.0), seeds=[1, 2])
    try:
        out = generate(batch, 16)
    finally:
        batch.close()
    chosen = "".join(out[1])
    assert chosen != "".join(out[0])
    follow = engine.start(first + chosen + "<|im_end|>\n<|im_start|>user\nMore?<|im_end|>\n", n=1,
                          sampling=GREEDY, seeds=[0])
    follow.close()
    new_tail = engine.count_tokens("<|im_end|>\n<|im_start|>user\nMore?<|im_end|>\n")
    assert follow.prompt_eval_tokens <= new_tail + 1  # path 1's tokens came from its cache


def test_rewind_then_greedy_regenerates_the_same_tokens(engine):
    batch = engine.start(prompt_for(engine, "Count from one to ten in words."), n=1, sampling=GREEDY, seeds=[0])
    try:
        first = generate(batch, 12)[0]
        batch.rewind(0, 5)
        again = generate(batch, 5)[0]
    finally:
        batch.close()
    assert again == first[-5:]


def test_injected_text_is_seen_by_the_model(engine):
    batch = engine.start(prompt_for(engine, "Say something."), n=2, sampling=GREEDY, seeds=[0, 1])
    try:
        generate(batch, 2)
        room = batch.room()
        used = batch.inject(1, " The secret word is banana. I repeat, the secret word is")
        assert batch.room() == room - used
        out = generate(batch, 4)
    finally:
        batch.close()
    assert "banana" in "".join(out[1]).lower()
    assert out[0] != out[1]


def test_a_stopped_sequence_gives_back_the_room_of_what_it_never_decoded(engine):
    batch = engine.start(prompt_for(engine, "Say something."), n=2, sampling=GREEDY, seeds=[0, 1])
    try:
        generate(batch, 2)
        before = batch.room()
        batch.inject(1, " a closing text that will never be decoded")
        batch.stop(1)
        # Sequence 1 keeps what it decoded (a follow-up may continue it), but its sampled
        # and injected tokens were never decoded: they hold no room.
        assert batch.room() == before + 1
        generate(batch, 1)
        assert batch.room() == before
    finally:
        batch.close()


def test_choice_logprobs_read_the_next_token_distribution(engine):
    batch = engine.start(prompt_for(engine, "Is the sky blue? Reply with Yes or No."), n=1, sampling=GREEDY, seeds=[0])
    try:
        yes, no, zebra = batch.choice_logprobs(0, [["Yes", "yes"], ["No", "no"], ["Zebra"]])
        first = batch.step()[0].text.strip()
    finally:
        batch.close()
    assert all(v <= 0 for v in (yes, no, zebra))
    assert max(yes, no) > zebra  # the model answers the question asked
    if first in ("Yes", "No"):  # greedy took the likelier of the two
        assert (yes > no) == (first == "Yes")


def _alone(engine, question: str, steps: int) -> str:
    batch = engine.start(prompt_for(engine, question), n=1, sampling=GREEDY, seeds=[0])
    try:
        return "".join(generate(batch, steps)[0])
    finally:
        batch.close()


def test_admitted_prompts_decode_beside_the_others_as_they_would_alone(engine):
    questions = ["What is 1+1?", "Name a colour.", "Name a fruit.", "What is 2+2?"]
    alone = {q: _alone(engine, q, 8) for q in questions}
    batch = engine.start(prompt_for(engine, questions[0]), n=1, sampling=GREEDY, seeds=[0])
    try:
        evaluated, total = batch.admit([1], prompt_for(engine, questions[1]), sampling=GREEDY, seeds=[0])
        assert total == engine.count_tokens(prompt_for(engine, questions[1]))
        # The chat framing before the question is copied from sequence 0, not evaluated.
        assert 0 < evaluated < engine.count_tokens(prompt_for(engine, questions[1]))
        out = generate(batch, 8)
        assert "".join(out[0]) == alone[questions[0]] and "".join(out[1]) == alone[questions[1]]
        room = batch.room()
        batch.stop(1)
        batch.admit([1], prompt_for(engine, questions[2]), sampling=GREEDY, seeds=[0])
        batch.stop(0)  # sequence 0 itself takes a new prompt too
        batch.admit([0], prompt_for(engine, questions[3]), sampling=GREEDY, seeds=[0])
        assert batch.room() > room - 2 * engine.count_tokens(prompt_for(engine, questions[2]))
        out = generate(batch, 8)
        assert "".join(out[1]) == alone[questions[2]] and "".join(out[0]) == alone[questions[3]]
    finally:
        batch.close()


def test_a_prompt_admitted_on_several_sequences_is_evaluated_once(engine):
    # Three paths of a second question join a running batch: its prompt is decoded once, on
    # the first of them, and the others take its cells; each then decodes as it would alone.
    questions = ["What is 1+1?", "Name a fruit."]
    alone = _alone(engine, questions[1], 8)
    batch = engine.start(prompt_for(engine, questions[0]), n=1, sampling=GREEDY, seeds=[0])
    try:
        generate(batch, 2)
        before = batch.room()
        evaluated, total = batch.admit([1, 2, 3], prompt_for(engine, questions[1]), sampling=GREEDY, seeds=[0, 1, 2])
        out = generate(batch, 8)
        assert ["".join(out[s]) for s in (1, 2, 3)] == [alone] * 3
        # the prompt's cells are counted once, not three times
        assert before - batch.room() < 2 * total + 4 * 8
        for seq in (1, 2, 3):
            batch.free(seq)
        assert batch.room() >= before - 8 - 1  # freed: only sequence 0's new tokens remain
        assert batch.live == [0]
    finally:
        batch.close()


def test_a_long_admitted_prompt_is_decoded_in_chunks(model_path):
    from thinkcli.engine.llama import LlamaEngine

    big = LlamaEngine(model_path, name="smollm2-135m", ctx=4096, n_seq_max=2)
    long_question = "Repeat after me: " + "one two three four five six seven eight nine ten " * 230
    try:
        batch = big.start(prompt_for(big, "Hi"), n=1, sampling=GREEDY, seeds=[0])
        generate(batch, 1)
        assert batch.admit([1], prompt_for(big, long_question), sampling=GREEDY, seeds=[0])[0] > big.n_batch
        tokens = batch.step()  # both sequences are sampled from logits of the same last decode
        assert sorted(t.seq for t in tokens) == [0, 1]
        assert all(t.logprob <= 0 for t in tokens)
        batch.close()
    finally:
        big.close()


def test_forbid_end_masks_end_of_generation(engine):
    batch = engine.start(prompt_for(engine, "Reply with OK."), n=1, sampling=GREEDY, seeds=[0])
    try:
        steps = 0
        while batch.live and steps < 40:
            batch.forbid_end(0)
            assert not any(t.eog for t in batch.step())
            steps += 1
    finally:
        batch.close()
    assert steps == 40


def test_prompt_longer_than_context_is_refused(engine):
    with pytest.raises(ContextOverflowError, match="2048"):
        engine.start(prompt_for(engine, "word " * 3000), n=1, sampling=GREEDY, seeds=[0])


class _BytesEngine:
    """Just enough engine for LlamaBatch: tokens are indexes into a list of byte pieces."""

    def __init__(self, pieces: list[bytes]):
        from thinkcli.engine import ModelInfo

        self.pieces, self.next = pieces, 0
        self.info = ModelInfo("x", "x", 100, 100, None)

    def sample(self, sampler, index):
        self.next += 1
        return self.next - 1

    def sample_without_end(self, sampler, index):
        return self.sample(sampler, index)

    def logprob(self, index, token):
        return -0.5

    def token_stats(self, indices, tokens):
        return [-0.5] * len(tokens), [1.0] * len(tokens)

    def is_eog(self, token):
        return token >= len(self.pieces)

    def piece(self, token):
        return self.pieces[token]

    n_batch = 512

    def decode(self, entries):
        pass

    def forget(self, seq, pos):
        pass

    def free_sampler(self, sampler):
        pass

    def remember(self, held):
        pass


def test_utf8_split_across_tokens_is_held_back():
    euro = "€".encode()  # three bytes, one token each
    engine = _BytesEngine([b"a", euro[:1], euro[1:2], euro[2:], b"b"])
    batch = LlamaBatch(engine, n=1, prompt=[0], prompt_tokens=1, prompt_eval_tokens=1, logits_index=0, samplers=[None])
    texts = [batch.step()[0].text for _ in range(5)]
    assert texts == ["a", "", "", "€", "b"]
    assert batch.step()[0].eog


def test_resize_makes_room_for_more_sequences_and_keeps_the_model(engine):
    prompt = prompt_for(engine, "Say hi.")
    with pytest.raises(ModelError, match="6 samples"):
        engine.start(prompt, n=6, sampling=GREEDY, seeds=list(range(6)))
    engine.resize(6)
    try:
        batch = engine.start(prompt, n=6, sampling=GREEDY, seeds=list(range(6)))
        try:
            out = generate(batch, 3)
        finally:
            batch.close()
        assert len(out) == 6 and batch.prompt_eval_tokens == batch.prompt_tokens  # a fresh cache
    finally:
        engine.resize(4)


def test_token_numbers_match_the_plain_computation_on_real_rows(engine):
    """Every path's log-probability and confidence equal the per-row reference, shared prompt row included."""
    from thinkcli.engine.stats import reference_stats

    batch = engine.start(prompt_for(engine, "Name a colour."), n=3, sampling=Sampling(temperature=0.8), seeds=[1, 2, 3])
    checked = 0
    try:
        for _ in range(4):
            rows = {s: engine._logits(batch._seqs[s].logits_index).copy() for s in batch.live}
            tokens = {s: engine.sample(batch._seqs[s].sampler, batch._seqs[s].logits_index) for s in batch.live}
            lps, confs = engine.token_stats([batch._seqs[s].logits_index for s in tokens], list(tokens.values()))
            for (s, token), lp, conf in zip(tokens.items(), lps, confs):
                want_lp, want_conf = reference_stats(rows[s], token)
                assert lp == pytest.approx(want_lp, abs=1e-3)
                assert conf == pytest.approx(want_conf, abs=1e-3)
                assert conf > 0
                checked += 1
            batch.step()
    finally:
        batch.close()
    assert checked >= 9


def test_a_long_prompt_is_evaluated_in_short_chunks_that_an_interrupt_can_stop(engine, monkeypatch):
    from thinkcli.engine.llama import PROMPT_CHUNK

    sizes: list[int] = []
    decode = engine.decode

    def counted(entries):
        sizes.append(len(entries))
        if len(sizes) == 2:
            raise KeyboardInterrupt  # what Python raises when Ctrl-C arrives during a decode
        decode(entries)

    monkeypatch.setattr(engine, "decode", counted)
    prompt = prompt_for(engine, "rivers and trains " * 400)  # about 1,600 tokens
    with pytest.raises(KeyboardInterrupt):
        engine.start(prompt, n=1, sampling=GREEDY, seeds=[1])
    assert sizes == [PROMPT_CHUNK, PROMPT_CHUNK] and PROMPT_CHUNK <= 256
    monkeypatch.undo()
    batch = engine.start(prompt_for(engine, "Hi"), n=1, sampling=GREEDY, seeds=[1])  # the engine still works
    assert generate(batch, 4)[0]
    batch.close()


def test_a_context_past_the_trained_length_holds_more_paths_none_longer(model_path):
    # Positions are per sequence: 24,576 cells hold three paths of the 8,192 the model was
    # trained on, and no one sequence may grow past those 8,192.
    from thinkcli.engine.llama import LlamaEngine

    eng = LlamaEngine(model_path, name="smollm2-135m", n_seq_max=3, want_ctx=24576)
    try:
        assert (eng.info.n_ctx, eng.info.n_ctx_train) == (24576, 8192)
        batch = eng.start(prompt_for(eng, "Hi"), n=3, sampling=GREEDY, seeds=[0, 1, 2])
        prompt = batch.prompt_tokens
        assert batch.room() > 3 * (8192 - prompt) - 8
        assert batch.room(0) == 8192 - prompt
        batch.close()
    finally:
        eng.close()


def _failing_contexts(monkeypatch, times: int) -> None:
    """Make llama.cpp refuse the next ``times`` contexts, as it does when memory runs out."""
    import llama_cpp as lc

    real, left = lc.llama_init_from_model, [times]

    def init(model, params):
        if left[0] > 0:
            left[0] -= 1
            return None
        return real(model, params)

    monkeypatch.setattr(lc, "llama_init_from_model", init)


def test_a_context_that_cannot_grow_keeps_the_old_one(model_path, monkeypatch):
    from thinkcli.engine.llama import LlamaEngine

    eng = LlamaEngine(model_path, name="smollm2-135m", ctx=1024, n_seq_max=1, repack=False)
    try:
        _failing_contexts(monkeypatch, 1)
        with pytest.raises(ModelError, match="keeps its 1-sequence context"):
            eng.resize(4)
        assert eng.n_seq_max == 1 and eng.count_tokens("Hello there") > 0
        batch = eng.start(prompt_for(eng, "Hi"), n=1, sampling=GREEDY, seeds=[1])
        try:
            assert generate(batch, 3)[0]
        finally:
            batch.close()
    finally:
        eng.close()


def test_an_engine_that_lost_its_context_refuses_every_call_in_one_line(model_path, monkeypatch):
    from thinkcli.engine.llama import LlamaEngine

    eng = LlamaEngine(model_path, name="smollm2-135m", ctx=1024, n_seq_max=1, repack=False)
    prompt = prompt_for(eng, "Hi")
    _failing_contexts(monkeypatch, 2)
    with pytest.raises(ModelError, match="could not create"):
        eng.resize(4)
    for call in (lambda: eng.tokenize("Hello"), lambda: eng.count_tokens("Hello"), lambda: eng.piece(7000),
                 lambda: eng.is_eog(7001), lambda: eng.resize(1),
                 lambda: eng.start(prompt, n=1, sampling=GREEDY, seeds=[1])):
        with pytest.raises(ModelError, match="no longer loaded") as caught:
            call()
        assert "\n" not in str(caught.value)
    eng.close()  # and closing again is harmless


def test_an_interrupted_load_frees_the_model(model_path, monkeypatch):
    import llama_cpp as lc

    from thinkcli.engine import hardware
    from thinkcli.engine.llama import LlamaEngine

    loaded, freed = [], []
    real_load, real_free = lc.llama_model_load_from_file, lc.llama_model_free

    def load(path, params):
        model = real_load(path, params)
        loaded.append(ctypes.cast(model, ctypes.c_void_p).value)
        return model

    def free(model):
        freed.append(ctypes.cast(model, ctypes.c_void_p).value)
        real_free(model)

    def interrupted(self, *, wait):
        raise KeyboardInterrupt  # Ctrl-C while the threads are measured, after the model is in memory

    monkeypatch.setattr(lc, "llama_model_load_from_file", load)
    monkeypatch.setattr(lc, "llama_model_free", free)
    monkeypatch.setattr(hardware.ThreadChooser, "choose", interrupted)
    with pytest.raises(KeyboardInterrupt):
        LlamaEngine(model_path, name="smollm2-135m", ctx=1024, n_seq_max=1, repack=False)
    assert loaded and freed == loaded


def test_a_failure_after_the_load_frees_the_model(home_with_model, tmp_path, monkeypatch):
    from dataclasses import replace

    from rich.console import Console

    from thinkcli import crash, load
    from thinkcli.config import load_settings
    from thinkcli.engine import llama
    from thinkcli.errors import InputError

    monkeypatch.setattr(crash, "install", lambda **_: True)  # no watcher for the test process
    closed, made = [], []
    real_close, real_init = llama.LlamaEngine.close, llama.LlamaEngine.__init__
    monkeypatch.setattr(llama.LlamaEngine, "close", lambda self: closed.append(self) or real_close(self))
    monkeypatch.setattr(llama.LlamaEngine, "__init__", lambda self, *a, **k: made.append(1) or real_init(self, *a, **k))
    env = {"THINKCLI_HOME": str(home_with_model), "THINKCLI_CACHE": str(tmp_path / "cache")}
    settings = replace(load_settings(env=env), repack="off")
    # A bad template file fails before any model is loaded...
    with pytest.raises(InputError, match="no such file"):
        load.open_engine(replace(settings, chat_template_file=str(tmp_path / "missing.jinja")), env,
                         Console(file=None), n_seq_max=1, debug=False)
    assert made == [] and closed == []

    # ...and Ctrl-C in what follows the load (the prompt format) frees the model it made.
    def interrupted(*_a, **_k):
        raise KeyboardInterrupt

    monkeypatch.setattr(load, "with_fallback", interrupted)
    with pytest.raises(KeyboardInterrupt):
        load.open_engine(settings, env, Console(file=None), n_seq_max=1, debug=False)
    assert made == [1] and len(closed) == 1