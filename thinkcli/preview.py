"""``thinkcli ask --print-prompt``: the exact text that would be decoded, and nothing else.

Reads the chat template and special tokens from the GGUF metadata (or
``--chat-template-file``), so it never loads llama.cpp or the weights.
"""

from __future__ import annotations

import json

from thinkcli.config import EffortPreset, Settings
from thinkcli.engine import ModelInfo
from thinkcli.engine.template import render_for
from thinkcli.errors import ExitStatus
from thinkcli.session import model_format, one_question, template_note
from thinkcli.turn.prompt import build_prompt


class MetadataEngine:
    """Enough of an engine to build a prompt: a model's template and special tokens.

    Args:
        info: the model as its metadata describes it.
        add_bos: llama.cpp puts the beginning-of-sequence token before the prompt
            (``tokenizer.ggml.add_bos_token``) unless the template wrote it.
    """

    def __init__(self, info: ModelInfo, *, add_bos: bool = False) -> None:
        self.info = info
        self.add_bos = add_bos

    def render(self, messages: list[dict], **template_kwargs: object) -> str:
        return render_for(self.info, messages, **template_kwargs)

    def decoded(self, prompt: str) -> str:
        """The prompt as llama.cpp would tokenize it, with its automatic BOS shown."""
        bos = self.info.bos_token
        return bos + prompt if self.add_bos and bos and not prompt.startswith(bos) else prompt


def preview(engine: MetadataEngine, settings: Settings, level: EffortPreset, question: str) -> dict:
    """The prompt a run at ``level`` would decode for ``question``, its format, and
    whether the model would start inside its reasoning.

    Args:
        engine: the model's template and special tokens.
        settings: the system prompt and reasoning format.
        level: the effort preset, after ``--no-think`` and ``--think-budget``.
        question: the user's question.
    """
    fmt = model_format(engine.info, level.reasoning_format or settings.reasoning_format)
    messages = one_question(question, settings.system)
    thinking = level.think_budget > 0
    prompt, starts = build_prompt(
        engine, fmt, messages, thinking=thinking, effort=level.name, budget=level.think_budget
    )
    return {"prompt": engine.decoded(prompt), "format": fmt.name, "starts_in_thinking": starts,
            "template": template_label(engine.info, settings)}


def template_label(info: ModelInfo, settings: Settings) -> str:
    """Where the prompt's template came from: ``model`` (its own, or a server's),
    ``file`` (``--chat-template-file``), or a format chosen from the vocabulary of a
    model that has none (``gemma (detected)``, ``completion (detected)``)."""
    if info.fallback is not None:
        return info.fallback.label
    if settings.chat_template_file:
        return "file"
    return "model" if info.chat_template is not None else "chatml"


def print_prompt(env, settings: Settings, level: EffortPreset, question: str, *, json_out: bool) -> ExitStatus:
    """Print the prompt (or, with ``json_out``, one JSON object) and generate nothing."""
    engine = _remote_metadata(env, settings) if settings.backend == "openai" else _local_metadata(env, settings)
    if (note := template_note(engine.info)) is not None:
        env.err_console().print(f"note: {note}", style="dim", markup=False, highlight=False, soft_wrap=True)
    shown = preview(engine, settings, level, question)
    env.stdout.write(json.dumps(shown, ensure_ascii=False) + "\n" if json_out else shown["prompt"])
    env.stdout.flush()
    return ExitStatus.OK


def _local_metadata(env, settings: Settings) -> MetadataEngine:
    from thinkcli.load import locate, with_fallback, with_template_file
    from thinkcli.models.vocab import special_tokens

    path, gguf = locate(settings, env.vars, env.err_console())
    tokens = special_tokens(path)
    info = ModelInfo(
        name=gguf.name, path=str(path), n_ctx=0, n_ctx_train=gguf.context_length or 0,
        chat_template=gguf.chat_template, **tokens,
    )
    add_bos = gguf.metadata.get("tokenizer.ggml.add_bos_token") is True
    return MetadataEngine(with_fallback(with_template_file(info, settings), path, gguf), add_bos=add_bos)


def _remote_metadata(env, settings: Settings) -> MetadataEngine:
    """The served model's template, as the remote engine finds it (the server renders
    with ChatML-like roles when it publishes none)."""
    from thinkcli.load import open_remote

    remote = open_remote(settings, env.vars, env.err_console(), debug=False)
    remote.close()
    return MetadataEngine(remote.info)
