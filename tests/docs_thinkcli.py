"""``thinkcli`` as the docs' examples run in tests: the real command line, offline and quick.

Everything but the model is real (parsing, config, the run log, rendering, files): the
engine is a scripted one (``thinkcli.engine.fake``), a ``pull`` writes a small valid GGUF
file instead of downloading, and any ``--base-url`` is a stub OpenAI-compatible server on
loopback. ``tests/test_docs.py`` puts a ``thinkcli`` on the PATH that runs this.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).parent
sys.path[:0] = [str(HERE.parent), str(HERE)]

import thinkcli.cli as cli  # noqa: E402
import thinkcli.load  # noqa: E402
from test_models import gguf_bytes  # noqa: E402
from stub_server import StubServer  # noqa: E402
from thinkcli.engine.fake import EOG, FakeEngine  # noqa: E402
from thinkcli.engine.template import CHATML  # noqa: E402
from thinkcli.models.store import ModelStore  # noqa: E402

THOUGHT = ["Twelve", " plus", " seven", " is", " nineteen.", "</think>", "The", " answer", " is", " 19.", EOG]


def opener(settings, env, err, *, n_seq_max, debug, want_ctx=8192):
    engine = FakeEngine([THOUGHT], n_ctx=settings.ctx or want_ctx, n_ctx_train=32768, name=settings.model,
                        chat_template=CHATML)
    engine.n_seq_max = max(n_seq_max, 64)
    return engine


def pull(self, ref, *, console=None):
    """A pulled model: a small GGUF file under the name asked for."""
    path = self.root / f"{ref.replace(':', '_').replace('/', '_')}.gguf"
    self.root.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gguf_bytes({"general.name": ref}))
    return path


def main(argv: list[str]) -> int:
    thinkcli.load.open_engine = opener
    ModelStore.pull = pull
    if "--base-url" in argv:
        server = StubServer(script=["The answer is 19."], chat_template=CHATML).start()
        argv[argv.index("--base-url") + 1] = server.url
    return cli.main(argv)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
